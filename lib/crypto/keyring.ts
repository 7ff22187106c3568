/**
 * Decryption over a key's versions: the version is read from the ciphertext
 * itself (clients such as MinIO always send version 0), with KES's format as a
 * fallback for ciphertexts made by KES under an imported key.
 */
import { ciphertextVersion, decrypt } from "./ciphertext.ts";
import { decryptKes } from "./kes.ts";
import type { KeyType } from "./message-key.ts";

/** A key version as far as decryption is concerned. */
export interface DecryptionKey {
  readonly version: number;
  readonly type: KeyType;
  readonly material: Uint8Array;
}

/**
 * Decrypts with the right version of a key; `requested` 0 means "whichever the
 * ciphertext names". Returns null when no version opens it.
 */
export function decryptWithVersions(
  versions: readonly DecryptionKey[],
  requested: number,
  ct: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array | null {
  const named = ciphertextVersion(ct);
  if (named !== undefined && (requested === 0 || requested === named)) {
    const key = versions.find((k) => k.version === named);
    const plaintext = key && decrypt(key.type, key.material, ct, associatedData);
    if (plaintext) return plaintext;
  }
  // KES ciphertexts carry no version: try the requested one, else newest first.
  const candidates = requested === 0 ? [...versions].reverse() : versions.filter((k) => k.version === requested);
  for (const key of candidates) {
    const plaintext = decryptKes(key.type, key.material, ct, associatedData);
    if (plaintext) return plaintext;
  }
  return null;
}
