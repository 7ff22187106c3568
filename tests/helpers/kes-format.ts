/**
 * KES's on-store key format and ciphertexts, written here from the reference
 * facts and node:crypto only (independently of lib/), to check that kms reads
 * what KES wrote.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { chacha20poly1305, hchacha } from "@noble/ciphers/chacha.js";

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const field = (num: number, bytes: Uint8Array | number[]) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
const uint = (num: number, v: number) => [...varint(num << 3), ...varint(v)];

/** Base64 of a protobuf KeyVersion{key=1 SecretKey{key, type}, hmac_key=2 {key, hash=1}, created_at=3, created_by=4}. */
export function kesStoredKey(material: Uint8Array, opts: { type?: 1 | 2; hmacKey?: Uint8Array; createdAtSec?: number; createdBy?: string } = {}): string {
  const secret = [...field(1, material), ...uint(2, opts.type ?? 1)];
  const parts = [...field(1, secret)];
  if (opts.hmacKey) parts.push(...field(2, [...field(1, opts.hmacKey), ...uint(2, 1)]));
  parts.push(...field(3, uint(1, opts.createdAtSec ?? 1_700_000_000)));
  if (opts.createdBy) parts.push(...field(4, [...Buffer.from(opts.createdBy)]));
  return Buffer.from(parts).toString("base64");
}

/** KES's legacy JSON form of a stored key. */
export function kesLegacyJsonKey(material: Uint8Array, algorithm = "AES256-GCM_SHA256"): string {
  return JSON.stringify({ bytes: Buffer.from(material).toString("base64"), algorithm, created_at: "2020-01-02T03:04:05Z", created_by: "" });
}

/** An AES256 KES ciphertext: AES-256-GCM under HMAC-SHA256(master, iv), AAD = context; sealed ‖ iv ‖ nonce. */
export function kesAesEncrypt(master: Uint8Array, plaintext: Uint8Array, context: Uint8Array): Uint8Array {
  const iv = randomBytes(16), nonce = randomBytes(12);
  const key = createHmac("sha256", master).update(iv).digest();
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(context);
  return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag(), iv, nonce]));
}

/** Opens an AES256 KES ciphertext; throws when not authentic. */
export function kesAesDecrypt(master: Uint8Array, ct: Uint8Array, context: Uint8Array): Uint8Array {
  const nonce = ct.subarray(ct.length - 12), iv = ct.subarray(ct.length - 28, ct.length - 12);
  const body = ct.subarray(0, ct.length - 44), tag = ct.subarray(ct.length - 44, ct.length - 28);
  const key = createHmac("sha256", master).update(iv).digest();
  const d = createDecipheriv("aes-256-gcm", key, nonce);
  d.setAAD(context);
  d.setAuthTag(tag);
  return new Uint8Array(Buffer.concat([d.update(body), d.final()]));
}

/** A ChaCha20 KES ciphertext: ChaCha20-Poly1305 under HChaCha20(master, iv); sealed ‖ iv ‖ nonce. */
export function kesChaChaEncrypt(master: Uint8Array, plaintext: Uint8Array, context: Uint8Array): Uint8Array {
  const iv = new Uint8Array(randomBytes(16)), nonce = new Uint8Array(randomBytes(12));
  const u32 = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
  const key = new Uint32Array(8);
  hchacha(u32(new TextEncoder().encode("expand 32-byte k")), u32(master), u32(iv), key);
  const sealed = chacha20poly1305(new Uint8Array(key.buffer), nonce, context).encrypt(plaintext);
  return new Uint8Array(Buffer.concat([sealed, iv, nonce]));
}
