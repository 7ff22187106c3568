/**
 * API keys in the browser, with Web Crypto only: the key pair behind a k1:
 * (Ed25519 seed), k2: (ECDSA P-256/384/521 scalar) or kes:v1: key, its
 * h1: identity (SHA-256 of the public key's SPKI, as lib/identity computes
 * it), and fresh k1: keys. The key text never leaves this page.
 */

/** A key pair made from an API key: its identity and a signer. */
export interface KeyPair {
  readonly identity: string;
  readonly spki: Uint8Array<ArrayBuffer>;
  sign(message: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
}

/** A malformed API key; the message never quotes the key. */
export class InvalidApiKey extends Error {}

const ED25519_PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const OID_EC_PUBLIC_KEY = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/** ECDSA curves by scalar length: Web Crypto name, DER OID, and the hash signatures use. */
const CURVES: Record<number, { name: string; oid: number[]; hash: string }> = {
  32: { name: "P-256", oid: [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], hash: "SHA-256" },
  48: { name: "P-384", oid: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], hash: "SHA-384" },
  66: { name: "P-521", oid: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], hash: "SHA-512" },
};

/** DER: tag, short-form length (everything here is under 128 bytes), content. */
function der(tag: number, ...parts: ArrayLike<number>[]): number[] {
  const body = parts.flatMap((p) => Array.from(p));
  return [tag, body.length, ...body];
}

/** Base64url (unpadded) to bytes, strictly: undefined for anything else. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const bytes = fromBase64(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - text.length % 4) % 4));
  // Canonical only: trailing bits that decoding would ignore make it another text for the same key.
  return bytes && toBase64url(bytes) === text ? bytes : undefined;
}

/** Standard base64 to bytes; undefined when malformed. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Bytes to standard base64. */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Bytes to unpadded base64url. */
export function toBase64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The h1: identity of an SPKI. */
export async function identityOfSpki(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  return "h1:" + toBase64url(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)));
}

/** KES's hex form of an h1: identity (the same hash). */
export function kesHex(identity: string): string {
  const bytes = fromBase64url(identity.slice(3)) ?? new Uint8Array();
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function ed25519(seed: Uint8Array): Promise<KeyPair> {
  const key = await crypto.subtle.importKey("pkcs8", new Uint8Array([...ED25519_PKCS8_PREFIX, ...seed]), { name: "Ed25519" }, true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", key);
  const pub = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, { name: "Ed25519" }, true, ["verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pub));
  return {
    identity: await identityOfSpki(spki), spki,
    sign: async (m) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, m)),
  };
}

async function ecdsa(scalar: Uint8Array): Promise<KeyPair> {
  const curve = CURVES[scalar.length];
  if (!curve) throw new InvalidApiKey("invalid API key: wrong length");
  // PKCS#8 with an RFC 5915 ECPrivateKey holding only the scalar: the public point is derived.
  const pkcs8 = der(0x30, [0x02, 0x01, 0x00], der(0x30, OID_EC_PUBLIC_KEY, curve.oid), der(0x04, der(0x30, [0x02, 0x01, 0x01], der(0x04, scalar))));
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), { name: "ECDSA", namedCurve: curve.name }, true, ["sign"]);
  } catch {
    throw new InvalidApiKey("invalid API key: private scalar out of range");
  }
  const { x, y } = await crypto.subtle.exportKey("jwk", key);
  const pub = await crypto.subtle.importKey("jwk", { kty: "EC", crv: curve.name, x, y }, { name: "ECDSA", namedCurve: curve.name }, true, ["verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pub));
  return {
    identity: await identityOfSpki(spki), spki,
    sign: async (m) => new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: curve.hash }, key, m)),
  };
}

/** The key pair of an API key text; InvalidApiKey when it is not one. */
export async function keyPairOf(text: string): Promise<KeyPair> {
  const t = text.trim();
  if (t.startsWith("kes:v1:")) {
    const bytes = /^[A-Za-z0-9+/]*={0,2}$/.test(t.slice(7)) ? fromBase64(t.slice(7)) : undefined;
    if (!bytes || bytes.length !== 33 || bytes[0] !== 0) throw new InvalidApiKey("invalid API key: malformed kes:v1: key");
    return ed25519(bytes.subarray(1));
  }
  const prefix = t.slice(0, 3);
  if (prefix !== "k1:" && prefix !== "k2:") throw new InvalidApiKey("invalid API key: expected k1:… or k2:…");
  const bytes = fromBase64url(t.slice(3));
  if (!bytes) throw new InvalidApiKey("invalid API key: malformed base64url");
  if (prefix === "k1:") {
    if (bytes.length !== 32) throw new InvalidApiKey("invalid API key: wrong length");
    return ed25519(bytes);
  }
  return ecdsa(bytes);
}

/** A fresh k1: API key and its identity, made here; the server never sees the key. */
export async function newApiKey(): Promise<{ apiKey: string; kesApiKey: string; identity: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
  const seed = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).slice(-32);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return { apiKey: "k1:" + toBase64url(seed), kesApiKey: "kes:v1:" + toBase64(new Uint8Array([0, ...seed])), identity: await identityOfSpki(spki) };
}
