/**
 * Cryptographically secure random bytes. A syscall per call dominates the cost
 * of small requests (IVs, nonces, DEKs), so bytes come from a pooled buffer
 * that is refilled in one go.
 */
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 64 * 1024;
const pool = new Uint8Array(POOL_SIZE);
// Everything before `offset` has been handed out; starting full forces a fill on first use.
let offset = POOL_SIZE;

/** `n` fresh random bytes, in a new array the caller owns. */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("randomBytes: length must be a non-negative integer");
  // Large requests would drain the pool for nothing: fill them directly.
  if (n > POOL_SIZE / 4) return randomFillSync(new Uint8Array(n));
  if (n > POOL_SIZE - offset) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.slice(offset, offset + n);
  // Wipe what was handed out so secrets (DEKs) do not linger in the pool.
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
