/**
 * Key derivation: turns one high-entropy secret into independent sub-keys,
 * one per purpose, so no key is ever used for two things.
 */
import { hkdfSync } from "node:crypto";

const EMPTY = new Uint8Array(0);

/** HKDF-SHA256 with a salt and binary info: `length` bytes of key. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

/** HKDF-SHA256 with an empty salt: `length` bytes of key for the purpose named by `info`. */
export function deriveKey(ikm: Uint8Array, info: string, length = 32): Uint8Array {
  // hkdfSync returns an ArrayBuffer; wrap it rather than copy.
  return new Uint8Array(hkdfSync("sha256", ikm, EMPTY, info, length));
}
