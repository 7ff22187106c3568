/**
 * Raw AES-256-GCM with a caller-chosen key (the HSM seal key, the store's
 * record key). Keys here are already single-purpose HKDF outputs, so no
 * per-message key derivation is needed.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;

/** Encrypts plaintext and authenticates it with aad; returns ciphertext‖tag. */
export function gcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  // Programming errors, not attacks: fail loudly, without echoing bytes.
  if (key.length !== KEY_SIZE) throw new RangeError(`gcmSeal: key must be ${KEY_SIZE} bytes`);
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`gcmSeal: nonce must be ${NONCE_SIZE} bytes`);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_SIZE });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const out = new Uint8Array(plaintext.length + TAG_SIZE);
  out.set(body, 0);
  out.set(tail, body.length);
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/** Verifies and decrypts ciphertext‖tag; null when it is not authentic or malformed. */
export function gcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (key.length !== KEY_SIZE || nonce.length !== NONCE_SIZE || sealed.length < TAG_SIZE) return null;
  const bodyLength = sealed.length - TAG_SIZE;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(bodyLength));
    const body = decipher.update(sealed.subarray(0, bodyLength));
    const tail = decipher.final(); // throws when the tag does not verify
    // Copy out of Node's Buffer (possibly a shared pooled slab) into an array the caller owns.
    const plaintext = new Uint8Array(bodyLength);
    plaintext.set(body, 0);
    plaintext.set(tail, body.length);
    body.fill(0);
    return plaintext;
  } catch {
    // A bad tag and malformed input look the same to callers, by design.
    return null;
  }
}
