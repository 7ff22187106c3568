/**
 * Per-message keys: every message is sealed under a key derived from the
 * master key and a random 16-byte iv, so a master key can seal far more
 * messages than a 12-byte random nonce alone would safely allow. This is
 * KES's scheme, which is why KES ciphertexts can be opened.
 */
import { createHmac } from "node:crypto";
import { KeyedHmac } from "./hmac.ts";
import { hchacha } from "@noble/ciphers/chacha.js";

/** The kinds of master key a KMS key can hold. */
export type KeyType = "AES256" | "ChaCha20";

/** Bytes of master key material, for both key types. */
export const MASTER_KEY_SIZE = 32;
/** Bytes of the random input each message key is derived from. */
export const IV_SIZE = 16;

// The ChaCha constants HChaCha20 starts from.
const SIGMA = new TextEncoder().encode("expand 32-byte k");

/** AES-256-GCM message key: HMAC-SHA256(master, iv). */
export function aesMessageKey(master: Uint8Array, iv: Uint8Array): Uint8Array {
  return createHmac("sha256", master).update(iv).digest();
}

/** aesMessageKey under one master for many ivs, from a keyed hasher (the store opens every row at start this way). */
export function aesMessageKeys(master: Uint8Array): (iv: Uint8Array) => Uint8Array {
  const mac = new KeyedHmac(master);
  return (iv) => mac.bytes(iv);
}

/** ChaCha20-Poly1305 message key: HChaCha20(master, iv); master must be 32 bytes, iv 16. */
export function chachaMessageKey(master: Uint8Array, iv: Uint8Array): Uint8Array {
  const key = words(master);
  const out = new Uint32Array(8);
  hchacha(words(SIGMA), key, words(iv), out);
  key.fill(0); // a copy of the master key
  // hchacha leaves `out` in little-endian byte order on every host.
  return new Uint8Array(out.buffer);
}

// noble's hchacha takes host-order word views of the raw bytes; copying also
// gives the 4-byte alignment a Uint32Array view needs. A copy into a fresh
// Uint8Array, not slice(): a Buffer's slice() is a view into its (pooled) memory.
function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(new Uint8Array(bytes).buffer);
}
