/**
 * Message authentication under a master key. The MAC uses its own sub-key,
 * HMAC-SHA256(master, "kms/v1/mac"), so the bytes that encrypt never also
 * authenticate.
 */
import { createHmac } from "node:crypto";

const LABEL = new TextEncoder().encode("kms/v1/mac");

// The same master serves many calls; deriving once per master halves the work.
// Keyed by identity: callers must not mutate a master array in place.
const subKeys = new WeakMap<Uint8Array, Uint8Array>();

/** HMAC (SHA-256 unless `hash` says otherwise, e.g. "sha384" for AWS's HMAC_384 keys) of message under the MAC sub-key of master. */
export function mac(master: Uint8Array, message: Uint8Array, hash = "sha256"): Uint8Array {
  let subKey = subKeys.get(master);
  if (subKey === undefined) {
    subKey = new Uint8Array(createHmac("sha256", master).update(LABEL).digest());
    subKeys.set(master, subKey);
  }
  return new Uint8Array(createHmac(hash, subKey).update(message).digest());
}
