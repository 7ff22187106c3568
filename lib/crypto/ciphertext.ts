/**
 * The KMS's own ciphertext format, v1:
 *
 *   0x6B 0x01 | key version (uint32 BE) | iv[16] | nonce[12] | ciphertext‖tag[16]
 *
 * The 6-byte header is part of the AEAD's associated data, so neither the
 * format version nor the key version can be altered without detection.
 */
import { NONCE_SIZE, open, sealInto, TAG_SIZE } from "./aead.ts";
import { IV_SIZE, type KeyType } from "./message-key.ts";
import { randomBytes } from "./random.ts";

const MAGIC = 0x6b;
const FORMAT_V1 = 0x01;
const HEADER_SIZE = 6;
const IV_OFFSET = HEADER_SIZE;
const NONCE_OFFSET = IV_OFFSET + IV_SIZE;
const BODY_OFFSET = NONCE_OFFSET + NONCE_SIZE;

/** Bytes a v1 ciphertext adds to its plaintext. */
export const CIPHERTEXT_OVERHEAD = BODY_OFFSET + TAG_SIZE; // 50

/** Encrypts plaintext under `master` (key version `version`) into a v1 ciphertext bound to associatedData. */
export function encrypt(
  type: KeyType,
  master: Uint8Array,
  version: number,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) {
    throw new RangeError("encrypt: key version must be a uint32");
  }
  // The AAD starts with the header, so build the header there and copy it out.
  const aad = new Uint8Array(HEADER_SIZE + associatedData.length);
  aad[0] = MAGIC;
  aad[1] = FORMAT_V1;
  new DataView(aad.buffer).setUint32(2, version, false);
  aad.set(associatedData, HEADER_SIZE);
  // Separate fresh arrays rather than views into `out`: Bun's node:crypto is
  // measurably slower (~15%) when handed subarrays.
  const iv = randomBytes(IV_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  const out = new Uint8Array(CIPHERTEXT_OVERHEAD + plaintext.length);
  out.set(aad.subarray(0, HEADER_SIZE)); // header
  out.set(iv, IV_OFFSET);
  out.set(nonce, NONCE_OFFSET);
  sealInto(type, master, iv, nonce, plaintext, aad, out, BODY_OFFSET);
  return out;
}

/** The key version of a v1 ciphertext, or undefined when ct is not v1. */
export function ciphertextVersion(ct: Uint8Array): number | undefined {
  if (!isV1(ct)) return undefined;
  return new DataView(ct.buffer, ct.byteOffset, ct.byteLength).getUint32(2, false);
}

/** Decrypts a v1 ciphertext; null when ct is not v1 or not authentic under master and associatedData. */
export function decrypt(
  type: KeyType,
  master: Uint8Array,
  ct: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array | null {
  if (!isV1(ct)) return null;
  return open(
    type,
    master,
    ct.subarray(IV_OFFSET, NONCE_OFFSET),
    ct.subarray(NONCE_OFFSET, BODY_OFFSET),
    ct.subarray(BODY_OFFSET),
    aadFor(ct, associatedData),
  );
}

function isV1(ct: Uint8Array): boolean {
  return ct.length >= CIPHERTEXT_OVERHEAD && ct[0] === MAGIC && ct[1] === FORMAT_V1;
}

// AAD = header ‖ associatedData, which authenticates the header.
function aadFor(ct: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const aad = new Uint8Array(HEADER_SIZE + associatedData.length);
  aad.set(ct.subarray(0, HEADER_SIZE));
  aad.set(associatedData, HEADER_SIZE);
  return aad;
}
