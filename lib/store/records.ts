/**
 * Record encryption. Both the key and the value of a record are secret, so a
 * row holds only id = HMAC(idKey, key) and the sealed len(key) ‖ key ‖ value,
 * with the id in the AAD: rows cannot be read, and cannot be swapped or moved
 * without detection.
 *
 * Format 2 (schema version 2) seals every row under its own key, derived from
 * the seal key and a random 16-byte iv exactly as message ciphertexts are
 * (lib/crypto/aead.ts): iv ‖ nonce ‖ AES-256-GCM(HMAC(sealKey, iv), …). One
 * directory can then seal any number of rows, where format 1 — one GCM key
 * and random 96-bit nonces — was bounded to about 2^32 writes. Format 1 is
 * only read, to migrate a directory (migrate.ts).
 */
import { gcmOpenWith, NONCE_SIZE, seal, TAG_SIZE } from "../crypto/aead.ts";
import { equal } from "../crypto/constant-time.ts";
import { deriveKey } from "../crypto/hkdf.ts";
import { KeyedHmac } from "../crypto/hmac.ts";
import { aesMessageKeys, IV_SIZE } from "../crypto/message-key.ts";
import { randomBytes } from "../crypto/random.ts";

export const ID_SIZE = 32;
const AAD_V1 = new TextEncoder().encode("kms/v1/record");
const AAD_V2 = new TextEncoder().encode("kms/v2/record");
const BODY_OFFSET = IV_SIZE + NONCE_SIZE;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One encrypted row, as stored. */
export interface SealedRecord {
  id: Uint8Array;
  value: Uint8Array;
}

/** Seals and opens records under sub-keys of the root key, which it never keeps. */
export class RecordCipher {
  #ids: KeyedHmac;
  #sealKey: Uint8Array;
  /** Each row's key: aead.ts's AES-256 message key under sealKey (open runs once per row at start). */
  #rowKey: (iv: Uint8Array) => Uint8Array;
  #legacyKey: Uint8Array;

  constructor(root: Uint8Array) {
    this.#ids = new KeyedHmac(deriveKey(root, "kms/v1/record-id"));
    this.#sealKey = deriveKey(root, "kms/v2/record-seal");
    this.#rowKey = aesMessageKeys(this.#sealKey);
    this.#legacyKey = deriveKey(root, "kms/v1/record-seal");
  }

  /** The row id of a record key: HMAC-SHA256(idKey, UTF-8 key). */
  id(key: string): Uint8Array {
    return this.#idOf(encodeKey(key));
  }

  /** Encrypts one record into its row (format 2). */
  seal(key: string, value: Uint8Array): SealedRecord {
    const keyBytes = encodeKey(key);
    const id = this.#idOf(keyBytes);
    const plaintext = new Uint8Array(4 + keyBytes.length + value.length);
    new DataView(plaintext.buffer).setUint32(0, keyBytes.length);
    plaintext.set(keyBytes, 4);
    plaintext.set(value, 4 + keyBytes.length);
    const iv = randomBytes(IV_SIZE);
    const nonce = randomBytes(NONCE_SIZE);
    const body = seal("AES256", this.#sealKey, iv, nonce, plaintext, aad(AAD_V2, id));
    plaintext.fill(0);
    const sealed = new Uint8Array(BODY_OFFSET + body.length);
    sealed.set(iv, 0);
    sealed.set(nonce, IV_SIZE);
    sealed.set(body, BODY_OFFSET);
    return { id, value: sealed };
  }

  /** Decrypts and verifies one format-2 row; null when it is not authentic or not bound to its id. */
  open(row: SealedRecord): [key: string, value: Uint8Array] | null {
    if (row.id.length !== ID_SIZE || row.value.length < BODY_OFFSET + TAG_SIZE) return null;
    const v = row.value;
    const key = this.#rowKey(v.subarray(0, IV_SIZE));
    const opened = gcmOpenWith(key, v.subarray(IV_SIZE, BODY_OFFSET), v.subarray(BODY_OFFSET), aad(AAD_V2, row.id), (plaintext) => this.#decode(row.id, plaintext));
    key.fill(0);
    return opened;
  }

  /** Decrypts and verifies one format-1 row (nonce ‖ GCM under the one seal key), for migration only. */
  openLegacy(row: SealedRecord): [key: string, value: Uint8Array] | null {
    if (row.id.length !== ID_SIZE || row.value.length < NONCE_SIZE + TAG_SIZE) return null;
    return gcmOpenWith(this.#legacyKey, row.value.subarray(0, NONCE_SIZE), row.value.subarray(NONCE_SIZE), aad(AAD_V1, row.id), (plaintext) => this.#decode(row.id, plaintext));
  }

  #idOf(keyBytes: Uint8Array): Uint8Array {
    return this.#ids.bytes(keyBytes);
  }

  /** Splits len(key) ‖ key ‖ value (only valid during the call: gcmOpenWith) and checks that the id belongs to the key; the value is copied out. */
  #decode(id: Uint8Array, plaintext: Uint8Array): [key: string, value: Uint8Array] | null {
    if (plaintext.length < 4) return null;
    // Read from the bytes, not through a DataView: a typed array's `.buffer` makes JavaScriptCore give
    // it an ArrayBuffer of its own, which was 7% of a start-up (once per row).
    const keyLength = (plaintext[0] << 24 | plaintext[1] << 16 | plaintext[2] << 8 | plaintext[3]) >>> 0;
    if (keyLength > plaintext.length - 4) return null;
    const keyBytes = plaintext.subarray(4, 4 + keyLength);
    let key: string;
    try {
      key = decoder.decode(keyBytes);
    } catch {
      return null;
    }
    // The AAD already binds the id; recomputing it also proves the id belongs to this key.
    if (!equal(this.#idOf(keyBytes), id)) return null;
    // A fresh array (not slice(): on the runtime's Buffer that is a view into memory zeroed after this call).
    return [key, new Uint8Array(plaintext.subarray(4 + keyLength))];
  }
}

function aad(prefix: Uint8Array, id: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + id.length);
  out.set(prefix, 0);
  out.set(id, prefix.length);
  return out;
}

function encodeKey(key: string): Uint8Array {
  // Lone surrogates would all encode to U+FFFD, letting distinct keys share one row.
  if (typeof key !== "string" || !key.isWellFormed()) throw new TypeError("record keys must be well-formed Unicode strings");
  return encoder.encode(key);
}
