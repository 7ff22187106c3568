/**
 * Identities: a client is known by the SHA-256 of its public key's DER
 * SubjectPublicKeyInfo, never by names or chains in its certificate.
 */

import { Buffer } from "node:buffer";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { certificateSpki } from "./der-reader.ts";
import { pemDecode } from "./pem.ts";
import { encodeBase64Url } from "../encoding/base64.ts";

/** Prefix of MinIO KMS's identity form. */
export const IDENTITY_PREFIX = "h1:";

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** `h1:` + unpadded base64url of SHA-256 over a DER SubjectPublicKeyInfo. */
export function identityOfSpki(spkiDer: Uint8Array): string {
  return IDENTITY_PREFIX + encodeBase64Url(sha256(spkiDer));
}

/** The `h1:` identity of a public key (a private key stands for its public half). */
export function identityOfPublicKey(key: KeyObject): string {
  return identityOfSpki(spkiOf(key));
}

/** The `h1:` identity of the key in a certificate given as DER bytes or PEM text. */
export function identityOfCertificate(cert: Uint8Array | string): string {
  const der = typeof cert === "string" ? pemDecode(cert, "CERTIFICATE") : cert;
  // Hash the SPKI bytes exactly as they appear in the certificate, like KES does.
  return identityOfSpki(certificateSpki(der));
}

/** KES's form of the same hash: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo. */
export function kesIdentityOfSpki(spkiDer: Uint8Array): string {
  return sha256(spkiDer).toString("hex");
}

/** The DER SubjectPublicKeyInfo of a key (private keys give their public half). */
export function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}

