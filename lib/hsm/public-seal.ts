/**
 * Sealing to an HSM key's public half (X25519, then HKDF-SHA256 and
 * AES-256-GCM): a node that holds one HSM key can seal the root key, or a
 * backup's key, for every other configured HSM key without ever holding
 * them. Only the holder of the matching HSM key can open the result.
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import { hkdf } from "../crypto/hkdf.ts";
import { randomBytes } from "../crypto/random.ts";
import { gcmOpen, gcmSeal, NONCE_SIZE, TAG_SIZE } from "../crypto/aead.ts";
import { HsmMismatchError } from "./errors.ts";

/** First byte of a public-key seal (symmetric seals start with 1). */
const VERSION = 2;
export const PUBLIC_KEY_SIZE = 32;
const HEADER = 1 + PUBLIC_KEY_SIZE + NONCE_SIZE;
// DER prefixes of an X25519 PKCS#8 private key and SPKI public key; the raw 32 bytes follow.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const encoder = new TextEncoder();

/** The X25519 private key whose 32-byte seed is `seed`. */
export function x25519Private(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The raw 32-byte public key of an X25519 key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const spki = (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== PUBLIC_KEY_SIZE) throw new RangeError("sealTo: a public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** The AEAD key of one seal: both public keys salt it, the label names its purpose. */
function sealKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array, label: string): Uint8Array {
  const salt = new Uint8Array(2 * PUBLIC_KEY_SIZE);
  salt.set(ephemeral);
  salt.set(recipient, PUBLIC_KEY_SIZE);
  return hkdf(shared, salt, encoder.encode("kms/v1/hsm-public-seal/" + label), 32);
}

/** Seals `plaintext` so that only the HSM key whose public key is `recipient` opens it: version ‖ ephemeral ‖ nonce ‖ ct‖tag. */
export function sealTo(recipient: Uint8Array, plaintext: Uint8Array, label: string): Uint8Array {
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublicKey(ephemeral.publicKey);
  const shared = new Uint8Array(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyObject(recipient) }));
  const key = sealKey(shared, epk, recipient, label);
  shared.fill(0);
  const nonce = randomBytes(NONCE_SIZE);
  const body = gcmSeal(key, nonce, plaintext, encoder.encode(label));
  key.fill(0);
  const out = new Uint8Array(HEADER + body.length);
  out[0] = VERSION;
  out.set(epk, 1);
  out.set(nonce, 1 + PUBLIC_KEY_SIZE);
  out.set(body, HEADER);
  return out;
}

/** Opens a seal made by sealTo for `own` (the private key and its public half); HsmMismatchError otherwise. */
export function openSealed(own: { privateKey: KeyObject; publicKey: Uint8Array }, sealed: Uint8Array, label: string): Uint8Array {
  if (sealed.length < HEADER + TAG_SIZE || sealed[0] !== VERSION) throw new HsmMismatchError();
  const epk = sealed.subarray(1, 1 + PUBLIC_KEY_SIZE);
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(diffieHellman({ privateKey: own.privateKey, publicKey: publicKeyObject(epk) }));
  } catch {
    throw new HsmMismatchError(); // a malformed (e.g. low-order) ephemeral key
  }
  const key = sealKey(shared, epk, own.publicKey, label);
  shared.fill(0);
  const plaintext = gcmOpen(key, sealed.subarray(1 + PUBLIC_KEY_SIZE, HEADER), sealed.subarray(HEADER), encoder.encode(label));
  key.fill(0);
  if (plaintext === null) throw new HsmMismatchError();
  return plaintext;
}

/** The fingerprint of an HSM key's public half: 16 hex digits of a SHA-256 over it. */
export function fingerprintOf(publicKey: Uint8Array): string {
  return createHash("sha256").update("kms/v1/hsm-fingerprint").update(publicKey).digest("hex").slice(0, 16);
}
