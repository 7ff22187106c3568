/**
 * Identities: a client is known by the SHA-256 of its public key's DER
 * SubjectPublicKeyInfo, never by names or chains in its certificate.
 */

import { Buffer } from "node:buffer";
import { createHash, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { pem } from "@peculiar/utils/pem";
import { fromBER, type Sequence } from "asn1js";
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
  const der = typeof cert === "string" ? certificateDer(cert) : cert;
  // Hash the SPKI bytes exactly as they appear in the certificate, like KES does.
  return identityOfSpki(certificateSpki(der));
}

/** The DER of the first PEM CERTIFICATE block in `text`. */
function certificateDer(text: string): Uint8Array {
  let block: { data: Uint8Array } | undefined;
  try {
    block = pem.find(text, "CERTIFICATE");
  } catch {
    throw new Error("malformed PEM CERTIFICATE");
  }
  if (!block) throw new Error("no PEM CERTIFICATE found");
  return block.data;
}

/**
 * The SubjectPublicKeyInfo exactly as it stands in a certificate. The
 * runtime's X509Certificate (the parser TLS itself uses) reads the
 * certificate and re-encodes its key: in the usual DER form those are the
 * field's very bytes. Where they are not (a compressed EC point, a key type
 * the runtime cannot load), asn1js hands back the field's own bytes.
 */
function certificateSpki(der: Uint8Array): Uint8Array {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new Error("not an X.509 certificate");
  }
  try {
    const spki = new Uint8Array(cert.publicKey.export({ type: "spki", format: "der" }));
    if (Buffer.from(der.buffer, der.byteOffset, der.byteLength).indexOf(spki) >= 0) return spki;
  } catch {
    // A key the runtime cannot load: read the field below.
  }
  return spkiAsWritten(der);
}

/** The SubjectPublicKeyInfo field's bytes, read with asn1js. */
function spkiAsWritten(der: Uint8Array): Uint8Array {
  try {
    const tbs = (fromBER(der).result as Sequence).valueBlock.value[0] as Sequence;
    const fields = tbs.valueBlock.value;
    // version [0] is optional (absent for v1); then serial, signature, issuer, validity, subject, SPKI.
    const spki = fields[fields[0]!.idBlock.tagClass === 3 ? 6 : 5]!;
    return new Uint8Array(spki.valueBeforeDecodeView);
  } catch {
    throw new Error("not an X.509 certificate");
  }
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

