/**
 * The KMS's own ciphertext formats:
 *
 *   v2: 0x6B 0x02 | key version (uint32 BE) | iv[16] | nonce[12] | ciphertext‖tag[16]
 *   v1: 0x6B 0x01 | (the same layout)
 *
 * The 6-byte header is part of the AEAD's associated data, so neither the
 * format version nor the key version can be altered without detection. A v2
 * ciphertext also authenticates a 32-byte binding (keyBinding: a hash of the
 * enclave and key name), so the same key bytes imported under two names do
 * not open each other's ciphertexts. v1 (no binding) is only read, for
 * ciphertexts made before v2.
 */
import { createHash } from "node:crypto";
import { NONCE_SIZE, open, sealInto, TAG_SIZE } from "./aead.ts";
import { IV_SIZE, type KeyType } from "./message-key.ts";
import { randomBytes } from "./random.ts";

const MAGIC = 0x6b;
const FORMAT_V1 = 0x01;
const FORMAT_V2 = 0x02;
const HEADER_SIZE = 6;
/** Bytes of a v2 binding. */
export const BINDING_SIZE = 32;
const IV_OFFSET = HEADER_SIZE;
const NONCE_OFFSET = IV_OFFSET + IV_SIZE;
const BODY_OFFSET = NONCE_OFFSET + NONCE_SIZE;

/** Bytes a ciphertext adds to its plaintext (v1 and v2 alike). */
export const CIPHERTEXT_OVERHEAD = BODY_OFFSET + TAG_SIZE; // 50

/** The binding of a key's v2 ciphertexts: SHA-256 of its enclave and name (neither may contain '/'). */
export function keyBinding(enclave: string, name: string): Uint8Array {
  return keyBindingInto(enclave, name, new Uint8Array(BINDING_SIZE));
}

/** keyBinding() written into `out` (32 bytes; returned): a caller reusing `out` allocates nothing for it. */
export function keyBindingInto(enclave: string, name: string, out: Uint8Array): Uint8Array {
  const text = `kms/v2/key:${enclave}/${name}`;
  // A key's first use pays this (GENERATE over many keys: most uses are first ones). Bun's one-shot SHA-256 hashes
  // the string's UTF-8 bytes straight into `out`: a fraction of node:crypto's createHash (~5–15 µs measured); Deno
  // has no Bun: node:crypto there. Both give the same bytes (ciphertext.test.ts).
  if (BunSha256) BunSha256.hash(text, out);
  else out.set(createHash("sha256").update(text, "utf8").digest());
  return out;
}

const BunSha256 = (globalThis as { Bun?: { SHA256: { hash(data: string, into: Uint8Array): Uint8Array } } }).Bun?.SHA256;

/** The binding for a purpose other than a named key (e.g. sealing node-to-node payloads). */
export function purposeBinding(purpose: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`kms/v2/purpose:${purpose}`).digest());
}

/**
 * Encrypts plaintext under `master` (key version `version`) into a v2
 * ciphertext bound to `binding` (see keyBinding) and associatedData.
 */
export function encrypt(
  type: KeyType,
  master: Uint8Array,
  version: number,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
  binding: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) {
    throw new RangeError("encrypt: key version must be a uint32");
  }
  if (binding.length !== BINDING_SIZE) throw new RangeError("encrypt: the binding must be 32 bytes");
  // The AAD starts with the header, so build the header there and copy it out.
  const aad = new Uint8Array(HEADER_SIZE + BINDING_SIZE + associatedData.length);
  aad[0] = MAGIC;
  aad[1] = FORMAT_V2;
  // Big-endian by hand: a DataView would need aad.buffer (the runtime then gives the array an ArrayBuffer of its own).
  aad[2] = version >>> 24;
  aad[3] = version >>> 16;
  aad[4] = version >>> 8;
  aad[5] = version;
  aad.set(binding, HEADER_SIZE);
  aad.set(associatedData, HEADER_SIZE + BINDING_SIZE);
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

/** The key version a v1 or v2 ciphertext names, or undefined when ct is neither. */
export function ciphertextVersion(ct: Uint8Array): number | undefined {
  if (formatOf(ct) === 0) return undefined;
  return new DataView(ct.buffer, ct.byteOffset, ct.byteLength).getUint32(2, false);
}

/**
 * Decrypts a v2 ciphertext bound to `binding`, or a v1 one (which has no
 * binding); null when ct is neither or not authentic under master,
 * associatedData and binding.
 */
export function decrypt(
  type: KeyType,
  master: Uint8Array,
  ct: Uint8Array,
  associatedData: Uint8Array,
  binding: Uint8Array,
): Uint8Array | null {
  const format = formatOf(ct);
  if (format === 0) return null;
  return open(
    type,
    master,
    ct.subarray(IV_OFFSET, NONCE_OFFSET),
    ct.subarray(NONCE_OFFSET, BODY_OFFSET),
    ct.subarray(BODY_OFFSET),
    aadFor(ct, associatedData, format === FORMAT_V2 ? binding : undefined),
  );
}

/** FORMAT_V1, FORMAT_V2, or 0 when ct is not one of ours. */
function formatOf(ct: Uint8Array): number {
  if (ct.length < CIPHERTEXT_OVERHEAD || ct[0] !== MAGIC) return 0;
  return ct[1] === FORMAT_V1 || ct[1] === FORMAT_V2 ? ct[1] : 0;
}

// AAD = header ‖ [binding (v2)] ‖ associatedData, which authenticates the header.
function aadFor(ct: Uint8Array, associatedData: Uint8Array, binding: Uint8Array | undefined): Uint8Array {
  const bound = binding ? BINDING_SIZE : 0;
  if (binding && binding.length !== BINDING_SIZE) throw new RangeError("decrypt: the binding must be 32 bytes");
  const aad = new Uint8Array(HEADER_SIZE + bound + associatedData.length);
  aad.set(ct.subarray(0, HEADER_SIZE));
  if (binding) aad.set(binding, HEADER_SIZE);
  aad.set(associatedData, HEADER_SIZE + bound);
  return aad;
}
