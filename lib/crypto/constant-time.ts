/** Comparisons whose duration does not depend on where inputs differ. */
import { timingSafeEqual } from "node:crypto";

/** True when a and b are equal, compared in constant time; false on length mismatch. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  // Lengths are not secret (MACs and tags have fixed sizes), so an early exit is fine.
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
