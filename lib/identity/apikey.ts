/**
 * API keys: a private key in text form (`k1:` Ed25519 seed, `k2:` ECDSA
 * scalar). Clients turn one into a self-signed TLS client certificate; the
 * server knows the client only by the identity of its public key.
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { ECParameters, ECPrivateKey, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { PrivateKey, PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { identityOfPublicKey } from "./identity.ts";
import { selfSignedCertificate } from "./x509.ts";
import { decodeCanonical, encodeBase64, encodeBase64Url } from "../encoding/base64.ts";

/** A parsed API key. Holds no key text, so logging it cannot leak the secret. */
export interface ApiKey {
  readonly privateKey: KeyObject;
  readonly identity: string;
}

/** Thrown for malformed API keys; the message never contains the key text. */
export class InvalidApiKeyError extends Error {
  constructor(reason: string) {
    super(`invalid API key: ${reason}`);
    this.name = "InvalidApiKeyError";
  }
}

/** ECDSA curves by private scalar length: OIDs and group orders (SEC 2 / FIPS 186-4). */
const curves = new Map<number, { name: string; oid: string; order: bigint }>([
  [32, {
    name: "P-256",
    oid: "1.2.840.10045.3.1.7",
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  }],
  [48, {
    name: "P-384",
    oid: "1.3.132.0.34",
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  }],
  [66, {
    name: "P-521",
    oid: "1.3.132.0.35",
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  }],
]);

const OID_ED25519 = "1.3.101.112";

/** A private key from its PKCS#8 (RFC 5208) parts: the algorithm and the key's own DER. */
function fromPkcs8(algorithm: AlgorithmIdentifier, privateKey: ArrayBuffer): KeyObject {
  const der = AsnConvert.serialize(new PrivateKeyInfo({ privateKeyAlgorithm: algorithm, privateKey: new PrivateKey(privateKey) }));
  return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
}

/** The Ed25519 private key of a 32-byte seed (RFC 8410: the key is OCTET STRING(seed)). */
export function ed25519FromSeed(seed: Uint8Array): KeyObject {
  return fromPkcs8(new AlgorithmIdentifier({ algorithm: OID_ED25519 }), AsnConvert.serialize(new OctetString(seed)));
}

function ecdsaFromScalar(scalar: Uint8Array): KeyObject {
  const curve = curves.get(scalar.length);
  if (!curve) throw new InvalidApiKeyError("wrong length");
  const d = BigInt("0x" + Buffer.from(scalar).toString("hex"));
  if (d === 0n || d >= curve.order) throw new InvalidApiKeyError("private scalar out of range");
  const algorithm = new AlgorithmIdentifier({
    algorithm: id_ecPublicKey,
    parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curve.oid })),
  });
  const ecPrivateKey = (publicKey?: ArrayBuffer) =>
    AsnConvert.serialize(new ECPrivateKey({ version: 1, privateKey: new OctetString(scalar), publicKey }));
  // RFC 5915 makes the public key optional, and both runtimes derive it from
  // the scalar; createECDH would be simpler but Deno lacks P-521 there.
  const bare = fromPkcs8(algorithm, ecPrivateKey());
  // Rebuild with the public point included so exported keys are complete on every runtime.
  const spki = new Uint8Array(createPublicKey(bare).export({ type: "spki", format: "der" }));
  const point = spki.slice(spki.length - (1 + 2 * scalar.length));
  return fromPkcs8(algorithm, ecPrivateKey(point.buffer));
}

class ParsedApiKey implements ApiKey {
  readonly privateKey: KeyObject;
  readonly identity: string;
  constructor(privateKey: KeyObject) {
    this.privateKey = privateKey;
    this.identity = identityOfPublicKey(privateKey);
  }
}

/** Prefix of KES's API keys: standard base64 of 0x00 ‖ 32-byte Ed25519 seed. */
export const KES_API_KEY_PREFIX = "kes:v1:";

/** Parses KES's `kes:v1:` form; the identity is the same hash as for the k1: key of the same seed. */
function parseKesApiKey(body: string): ApiKey {
  // Strict: foreign characters and non-canonical trailing bits, which a lenient decoder ignores, are refused.
  const bytes = decodeCanonical(body);
  if (!bytes) throw new InvalidApiKeyError("malformed base64");
  if (bytes.length !== 33) throw new InvalidApiKeyError("wrong length");
  if (bytes[0] !== 0) throw new InvalidApiKeyError("unsupported key type");
  return new ParsedApiKey(ed25519FromSeed(bytes.subarray(1)));
}

/** Parses a `k1:` (Ed25519 seed), `k2:` (ECDSA P-256/384/521 scalar) or KES `kes:v1:` API key; throws InvalidApiKeyError. */
export function parseApiKey(text: string): ApiKey {
  if (typeof text !== "string") throw new InvalidApiKeyError("expected k1:… or k2:…");
  const trimmed = text.trim();
  if (trimmed.startsWith(KES_API_KEY_PREFIX)) return parseKesApiKey(trimmed.slice(KES_API_KEY_PREFIX.length));
  const prefix = trimmed.slice(0, 3);
  if (prefix !== "k1:" && prefix !== "k2:") throw new InvalidApiKeyError("expected k1:… or k2:…");
  const bytes = decodeCanonical(trimmed.slice(3), true);
  if (!bytes) throw new InvalidApiKeyError("malformed base64url");
  if (prefix === "k1:") {
    if (bytes.length !== 32) throw new InvalidApiKeyError("wrong length");
    return new ParsedApiKey(ed25519FromSeed(bytes));
  }
  return new ParsedApiKey(ecdsaFromScalar(bytes));
}

/** The `k1:` API key text for a 32-byte Ed25519 seed. */
export function apiKeyFromSeed(seed: Uint8Array): string {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  return "k1:" + encodeBase64Url(seed);
}

/** The KES `kes:v1:` API key text for a 32-byte Ed25519 seed. */
export function kesApiKeyFromSeed(seed: Uint8Array): string {
  if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
  return KES_API_KEY_PREFIX + encodeBase64(Buffer.concat([Buffer.from([0]), Buffer.from(seed)]));
}

/** The same key in KES's `kes:v1:` form (same identity), for a `k1:` or `kes:v1:` key; undefined for `k2:` keys. */
export function kesApiKeyOf(text: string): string | undefined {
  const t = text.trim();
  if (t.startsWith(KES_API_KEY_PREFIX)) return t;
  if (!t.startsWith("k1:")) return undefined;
  const seed = decodeCanonical(t.slice(3), true);
  return seed?.length === 32 ? kesApiKeyFromSeed(seed) : undefined;
}

/** A fresh random `k1:` API key. */
export function newApiKey(): string {
  return apiKeyFromSeed(randomBytes(32));
}

/** PEM key and certificate a TLS client presents for an API key. */
export interface ClientCredentials {
  /** PKCS#8 private key, PEM. */
  readonly key: string;
  /** Self-signed client certificate, PEM. */
  readonly cert: string;
}

/** How long client certificates last; servers ignore validity, but some TLS stacks check it on send. */
const CLIENT_CERT_DAYS = 90;

const credentialCache = new WeakMap<ApiKey, ClientCredentials>();

/** The client's PEM private key and self-signed certificate (CN = identity, clientAuth), cached per ApiKey. */
export function clientCredentials(key: ApiKey): ClientCredentials {
  let creds = credentialCache.get(key);
  if (!creds) {
    creds = {
      key: key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      cert: selfSignedCertificate({
        privateKey: key.privateKey,
        commonName: key.identity,
        days: CLIENT_CERT_DAYS,
        purpose: "client",
      }),
    };
    credentialCache.set(key, creds);
  }
  return creds;
}
