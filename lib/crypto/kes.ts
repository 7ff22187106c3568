/**
 * KES's raw ciphertext format, for data encrypted by KES (or by `kms edge`,
 * which writes the same format so KES and kms edge servers interoperate):
 *
 *   ciphertext‖tag[16] | iv[16] | nonce[12]
 *
 * Unlike v1 there is no header; the AEAD's associated data is exactly the
 * caller's. Older KES versions wrote a JSON envelope instead
 * (`{"aead": …, "iv": …, "nonce": …, "bytes": …}`, first byte `{`), which
 * decryptKes also opens. The stateful server only decrypts this format: its
 * new ciphertexts always use v1.
 */
import { NONCE_SIZE, open, sealInto, TAG_SIZE } from "./aead.ts";
import { IV_SIZE, type KeyType } from "./message-key.ts";
import { randomBytes } from "./random.ts";
import { decodeBase64 } from "../encoding/base64.ts";

/** Bytes KES's format adds to its plaintext. */
export const KES_CIPHERTEXT_OVERHEAD = TAG_SIZE + IV_SIZE + NONCE_SIZE; // 44

/** Encrypts plaintext under `master` in KES's raw format, bound to associatedData. */
export function encryptKes(type: KeyType, master: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + KES_CIPHERTEXT_OVERHEAD);
  const iv = randomBytes(IV_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  sealInto(type, master, iv, nonce, plaintext, associatedData, out, 0);
  out.set(iv, plaintext.length + TAG_SIZE);
  out.set(nonce, plaintext.length + TAG_SIZE + IV_SIZE);
  return out;
}

/** Decrypts a ciphertext produced by KES; null when malformed or not authentic. */
export function decryptKes(
  type: KeyType,
  master: Uint8Array,
  ct: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array | null {
  if (ct.length > 0 && ct[0] === 0x7b) {
    const plaintext = decryptKesJson(type, master, ct, associatedData);
    if (plaintext) return plaintext;
    // A raw ciphertext may start with '{' by chance: fall through.
  }
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

/** AEAD names of KES's JSON envelope, by key type. */
const JSON_AEADS: Readonly<Record<KeyType, readonly string[]>> = {
  AES256: ["AES-256-GCM-HMAC-SHA-256", "AES-256-GCM_SHA256", "AES256"],
  ChaCha20: ["ChaCha20Poly1305", "XCHACHA20-POLY1305", "ChaCha20"],
};

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Opens KES's legacy JSON envelope; null when it is not one or does not verify. */
function decryptKesJson(type: KeyType, master: Uint8Array, ct: Uint8Array, associatedData: Uint8Array): Uint8Array | null {
  let env: unknown;
  try {
    env = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(ct));
  } catch {
    return null;
  }
  if (typeof env !== "object" || env === null) return null;
  const { aead, iv, nonce, bytes } = env as Record<string, unknown>;
  if (typeof aead !== "string" || !JSON_AEADS[type].includes(aead)) return null;
  if (typeof iv !== "string" || typeof nonce !== "string" || typeof bytes !== "string") return null;
  if (!B64.test(iv) || !B64.test(nonce) || !B64.test(bytes)) return null;
  const dec = decodeBase64;
  return open(type, master, dec(iv), dec(nonce), dec(bytes), associatedData);
}
