/**
 * Authenticated encryption: AES-256-GCM or ChaCha20-Poly1305 with a 12-byte
 * nonce and 16-byte tag, under per-message keys (see message-key.ts), or raw
 * AES-256-GCM under a key that is already single-purpose (gcmSeal/gcmOpen:
 * the HSM's seal key, the store's legacy record key).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { aesMessageKey, chachaMessageKey, IV_SIZE, type KeyType, MASTER_KEY_SIZE } from "./message-key.ts";

export type { KeyType } from "./message-key.ts";

/** Bytes of AEAD nonce. */
export const NONCE_SIZE = 12;
/** Bytes of authentication tag appended to every sealed message. */
export const TAG_SIZE = 16;

/** Bytes of a raw AES-256-GCM key. */
export const GCM_KEY_SIZE = 32;

/** Raw AES-256-GCM: encrypts plaintext and authenticates it with aad; returns ciphertext‖tag. */
export function gcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  // Programming errors, not attacks: fail loudly, without echoing bytes.
  if (key.length !== GCM_KEY_SIZE) throw new RangeError(`gcmSeal: key must be ${GCM_KEY_SIZE} bytes`);
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`gcmSeal: nonce must be ${NONCE_SIZE} bytes`);
  const out = new Uint8Array(plaintext.length + TAG_SIZE);
  gcmSealInto(key, nonce, plaintext, aad, out, 0);
  return out;
}

/** Raw AES-256-GCM: verifies and decrypts ciphertext‖tag; null when it is not authentic or malformed. */
export function gcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  // A copy into an array the caller owns (the runtime's Buffer may share a pooled slab, and is zeroed after).
  return gcmOpenWith(key, nonce, sealed, aad, (plaintext) => new Uint8Array(plaintext));
}

/**
 * gcmOpen that hands the plaintext to `use` and zeroes it when `use` returns: the view is only valid
 * during the call. For callers that keep parts of it (the store opens every row at start this way:
 * subarrays of a fresh Uint8Array make JavaScriptCore give it an ArrayBuffer of its own, which is
 * slower than the decryption); null when it is not authentic or malformed, without calling `use`.
 */
export function gcmOpenWith<T>(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, use: (plaintext: Uint8Array) => T): T | null {
  if (key.length !== GCM_KEY_SIZE || nonce.length !== NONCE_SIZE || sealed.length < TAG_SIZE) return null;
  const bodyLength = sealed.length - TAG_SIZE;
  let body: Uint8Array;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(bodyLength));
    body = decipher.update(sealed.subarray(0, bodyLength));
    const tail = decipher.final(); // throws when the tag does not verify; empty for GCM in practice
    if (tail.length > 0) body = joined(body, tail);
  } catch {
    // Authentication failures and malformed input look the same to the caller, by design.
    return null;
  }
  try {
    return use(body);
  } finally {
    body.fill(0);
  }
}

/** a ‖ b in a new array; a is zeroed (it held plaintext). */
function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  a.fill(0);
  b.fill(0);
  return out;
}

function gcmSealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
  // GCM's default tag is 16 bytes; passing authTagLength costs ~10% on Bun.
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const tail = cipher.final(); // empty for GCM, but part of the contract
  out.set(body, offset);
  out.set(tail, offset + body.length);
  out.set(cipher.getAuthTag(), offset + plaintext.length);
}

/** Encrypts and authenticates plaintext and aad; returns ciphertext‖tag. Throws on bad arguments. */
export function seal(
  type: KeyType,
  master: Uint8Array,
  iv: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + TAG_SIZE);
  sealInto(type, master, iv, nonce, plaintext, aad, out, 0);
  return out;
}

/** Like seal, but writes ciphertext‖tag into `out` at `offset`, saving a copy for framed formats. */
export function sealInto(
  type: KeyType,
  master: Uint8Array,
  iv: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  // Programming errors, not attacks: fail loudly, and without echoing any bytes.
  if (master.length !== MASTER_KEY_SIZE) throw new RangeError(`seal: master key must be ${MASTER_KEY_SIZE} bytes`);
  if (iv.length !== IV_SIZE) throw new RangeError(`seal: iv must be ${IV_SIZE} bytes`);
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`seal: nonce must be ${NONCE_SIZE} bytes`);
  if (out.length - offset < plaintext.length + TAG_SIZE) throw new RangeError("seal: output too small");
  if (type === "AES256") {
    const key = aesMessageKey(master, iv);
    try {
      gcmSealInto(key, nonce, plaintext, aad, out, offset);
    } finally {
      key.fill(0);
    }
  } else if (type === "ChaCha20") {
    const key = chachaMessageKey(master, iv);
    out.set(chacha20poly1305(key, nonce, aad).encrypt(plaintext), offset);
    key.fill(0);
  } else {
    throw new TypeError("seal: unsupported key type");
  }
}

/** Verifies and decrypts ciphertext‖tag; null when not authentic or any argument is malformed. */
export function open(
  type: KeyType,
  master: Uint8Array,
  iv: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  if (master.length !== MASTER_KEY_SIZE || iv.length !== IV_SIZE || nonce.length !== NONCE_SIZE) return null;
  if (sealed.length < TAG_SIZE) return null;
  try {
    if (type === "AES256") {
      const key = aesMessageKey(master, iv);
      try {
        return gcmOpen(key, nonce, sealed, aad);
      } finally {
        key.fill(0);
      }
    }
    if (type === "ChaCha20") {
      const key = chachaMessageKey(master, iv);
      try {
        return chacha20poly1305(key, nonce, aad).decrypt(sealed);
      } finally {
        key.fill(0);
      }
    }
    return null;
  } catch {
    // Authentication failures and malformed input look the same to the caller, by design.
    return null;
  }
}
