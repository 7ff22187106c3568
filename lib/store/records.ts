/**
 * Record encryption. Both the key and the value of a record are secret, so a
 * row holds only id = HMAC(idKey, key) and nonce ‖ AES-256-GCM(sealKey,
 * len(key) ‖ key ‖ value) with the id in the AAD: rows cannot be read, and
 * cannot be swapped or moved without detection.
 */
import { createHmac } from "node:crypto";
import { equal } from "../crypto/constant-time.ts";
import { deriveKey } from "../crypto/hkdf.ts";
import { randomBytes } from "../crypto/random.ts";
import { gcmOpen, gcmSeal, NONCE_SIZE, TAG_SIZE } from "../hsm/aes-gcm.ts";

export const ID_SIZE = 32;
const AAD_PREFIX = new TextEncoder().encode("kms/v1/record");
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One encrypted row, as stored. */
export interface SealedRecord {
  id: Uint8Array;
  value: Uint8Array;
}

/** Seals and opens records under sub-keys of the root key, which it never keeps. */
export class RecordCipher {
  #idKey: Uint8Array;
  #sealKey: Uint8Array;

  constructor(root: Uint8Array) {
    this.#idKey = deriveKey(root, "kms/v1/record-id");
    this.#sealKey = deriveKey(root, "kms/v1/record-seal");
  }

  /** The row id of a record key: HMAC-SHA256(idKey, UTF-8 key). */
  id(key: string): Uint8Array {
    return new Uint8Array(createHmac("sha256", this.#idKey).update(encodeKey(key)).digest());
  }

  /** Encrypts one record into its row. */
  seal(key: string, value: Uint8Array): SealedRecord {
    const keyBytes = encodeKey(key);
    const id = new Uint8Array(createHmac("sha256", this.#idKey).update(keyBytes).digest());
    const plaintext = new Uint8Array(4 + keyBytes.length + value.length);
    new DataView(plaintext.buffer).setUint32(0, keyBytes.length);
    plaintext.set(keyBytes, 4);
    plaintext.set(value, 4 + keyBytes.length);
    const nonce = randomBytes(NONCE_SIZE);
    const body = gcmSeal(this.#sealKey, nonce, plaintext, aad(id));
    plaintext.fill(0);
    const sealed = new Uint8Array(NONCE_SIZE + body.length);
    sealed.set(nonce, 0);
    sealed.set(body, NONCE_SIZE);
    return { id, value: sealed };
  }

  /** Decrypts and verifies one row; null when it is not authentic or not bound to its id. */
  open(row: SealedRecord): [key: string, value: Uint8Array] | null {
    if (row.id.length !== ID_SIZE || row.value.length < NONCE_SIZE + TAG_SIZE) return null;
    const plaintext = gcmOpen(this.#sealKey, row.value.subarray(0, NONCE_SIZE), row.value.subarray(NONCE_SIZE), aad(row.id));
    if (plaintext === null || plaintext.length < 4) return null;
    const keyLength = new DataView(plaintext.buffer, plaintext.byteOffset).getUint32(0);
    if (keyLength > plaintext.length - 4) return null;
    const keyBytes = plaintext.subarray(4, 4 + keyLength);
    let key: string;
    try {
      key = decoder.decode(keyBytes);
    } catch {
      return null;
    }
    // The AAD already binds the id; recomputing it also proves the id belongs to this key.
    const id = new Uint8Array(createHmac("sha256", this.#idKey).update(keyBytes).digest());
    if (!equal(id, row.id)) return null;
    return [key, plaintext.slice(4 + keyLength)];
  }
}

function aad(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(AAD_PREFIX.length + id.length);
  out.set(AAD_PREFIX, 0);
  out.set(id, AAD_PREFIX.length);
  return out;
}

function encodeKey(key: string): Uint8Array {
  // Lone surrogates would all encode to U+FFFD, letting distinct keys share one row.
  if (typeof key !== "string" || !key.isWellFormed()) throw new TypeError("record keys must be well-formed Unicode strings");
  return encoder.encode(key);
}
