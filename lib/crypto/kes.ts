/**
 * KES's raw ciphertext format, for data encrypted by KES under a key that was
 * later imported here:
 *
 *   ciphertext‖tag[16] | iv[16] | nonce[12]
 *
 * Unlike v1 there is no header; the AEAD's associated data is exactly the
 * caller's. Only decryption is offered: new ciphertexts always use v1.
 */
import { NONCE_SIZE, open, TAG_SIZE } from "./aead.ts";
import { IV_SIZE, type KeyType } from "./message-key.ts";

/** Bytes KES's format adds to its plaintext. */
export const KES_CIPHERTEXT_OVERHEAD = TAG_SIZE + IV_SIZE + NONCE_SIZE; // 44

/** Decrypts a ciphertext produced by KES; null when malformed or not authentic. */
export function decryptKes(
  type: KeyType,
  master: Uint8Array,
  ct: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array | null {
  if (ct.length < KES_CIPHERTEXT_OVERHEAD) return null;
  const nonceStart = ct.length - NONCE_SIZE;
  const ivStart = nonceStart - IV_SIZE;
  return open(
    type,
    master,
    ct.subarray(ivStart, nonceStart),
    ct.subarray(nonceStart),
    ct.subarray(0, ivStart),
    associatedData,
  );
}
