/**
 * X.509 v3 certificates (RFC 5280) for Ed25519 and ECDSA keys: self-signed
 * client certificates that carry an API key's identity, self-signed server
 * certificates that clients can pin as their own trust anchor, and a CA with
 * the leaf certificates it issues (the cluster CA of lib/server/tls.ts).
 */

import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import * as der from "./der.ts";
import { ipAddressBytes } from "./ip.ts";
import { pemEncode } from "./pem.ts";

/** Options for {@link selfSignedCertificate}. */
export interface CertificateOptions {
  /** Ed25519 or ECDSA P-256/P-384/P-521 private key; the certificate carries its public half. */
  privateKey: KeyObject;
  /** Subject (and issuer) common name. */
  commonName: string;
  /** subjectAltName DNS names. */
  dnsNames?: string[];
  /** subjectAltName IP addresses, IPv4 or IPv6. */
  ipAddresses?: string[];
  /** Validity in days from now. */
  days: number;
  /** Extended key usage: TLS client or TLS server authentication. */
  purpose: "client" | "server";
}

const OID = {
  commonName: "2.5.4.3",
  ed25519: "1.3.101.112",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** keyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KeyUsage = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** How to sign with a key: the hash for node:crypto `sign` and the matching AlgorithmIdentifier OID. */
interface Signer {
  hash: string | null;
  oid: string;
}

const ecSigners: Record<string, Signer> = {
  "prime256v1": { hash: "sha256", oid: OID.ecdsaWithSha256 },
  "secp256r1": { hash: "sha256", oid: OID.ecdsaWithSha256 },
  "P-256": { hash: "sha256", oid: OID.ecdsaWithSha256 },
  "secp384r1": { hash: "sha384", oid: OID.ecdsaWithSha384 },
  "P-384": { hash: "sha384", oid: OID.ecdsaWithSha384 },
  "secp521r1": { hash: "sha512", oid: OID.ecdsaWithSha512 },
  "P-521": { hash: "sha512", oid: OID.ecdsaWithSha512 },
};

function signerFor(key: KeyObject): Signer {
  if (key.type !== "private") throw new TypeError("certificate needs a private key");
  if (key.asymmetricKeyType === "ed25519") return { hash: null, oid: OID.ed25519 };
  if (key.asymmetricKeyType === "ec") {
    const signer = ecSigners[key.asymmetricKeyDetails?.namedCurve ?? ""];
    if (signer) return signer;
  }
  throw new TypeError("unsupported key: need Ed25519 or ECDSA P-256, P-384 or P-521");
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  // DER omits BOOLEAN fields equal to their DEFAULT (FALSE).
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

function subjectAltName(dnsNames: string[], ipAddresses: string[]): Uint8Array {
  const names = [
    ...dnsNames.map((n) => der.implicit(2, dnsNameBytes(n))),
    ...ipAddresses.map((ip) => der.implicit(7, ipAddressBytes(ip))),
  ];
  return der.sequence(...names);
}

function dnsNameBytes(name: string): Uint8Array {
  // dNSName is an IA5String; internationalized names must arrive as A-labels.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`invalid DNS name: ${name}`);
  return new TextEncoder().encode(name);
}

function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  // A zero serial is not allowed; der.integer adds a sign byte so the value stays positive.
  if (serial.every((b) => b === 0)) serial[15] = 1;
  return serial;
}

/** Creates a self-signed certificate for `privateKey` and returns it as PEM. */
export function selfSignedCertificate(opts: CertificateOptions): string {
  if (!(opts.days > 0)) throw new RangeError("certificate validity must be positive");
  const { notBefore, notAfter } = validity(opts.days);
  return build({
    subjectKey: opts.privateKey,
    subjectName: opts.commonName,
    issuerKey: opts.privateKey,
    issuerName: opts.commonName,
    serial: randomSerial(),
    notBefore,
    notAfter,
    extensions: [
      // Peers pin these certificates as their own trust anchors. CA:FALSE because
      // rustls refuses a CA certificate as a leaf (CaUsedAsEndEntity); keyCertSign
      // because OpenSSL's issuer check (X509_check_issued, and chain building in
      // OpenSSL 1.1) refuses a self-signed certificate whose keyUsage lacks it.
      extension(OID.basicConstraints, true, der.sequence()),
      extension(OID.keyUsage, true, der.namedBits([KeyUsage.digitalSignature, KeyUsage.keyCertSign])),
      extension(OID.extKeyUsage, false, der.sequence(der.oid(opts.purpose === "server" ? OID.serverAuth : OID.clientAuth))),
      ...altNames(opts.dnsNames ?? [], opts.ipAddresses ?? []),
    ],
  });
}

/** Options for {@link caCertificate}: a fixed validity and serial make the same key give the same certificate fields everywhere. */
export interface CaOptions {
  privateKey: KeyObject;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  serial: Uint8Array;
}

/** A self-signed CA certificate (CA:TRUE, keyCertSign) for issuing certificates with {@link issuedCertificate}. */
export function caCertificate(opts: CaOptions): string {
  return build({
    subjectKey: opts.privateKey,
    subjectName: opts.commonName,
    issuerKey: opts.privateKey,
    issuerName: opts.commonName,
    serial: opts.serial,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
      extension(OID.keyUsage, true, der.namedBits([KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign])),
    ],
  });
}

/** Options for {@link issuedCertificate}. */
export interface IssuedOptions {
  /** The subject's key (public or private; the certificate carries the public half). */
  subjectKey: KeyObject;
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  days: number;
  /** The CA's private key and common name. */
  issuerKey: KeyObject;
  issuerName: string;
}

/** A leaf certificate signed by a CA, good for both TLS server and TLS client authentication. */
export function issuedCertificate(opts: IssuedOptions): string {
  if (!(opts.days > 0)) throw new RangeError("certificate validity must be positive");
  const { notBefore, notAfter } = validity(opts.days);
  return build({
    subjectKey: opts.subjectKey,
    subjectName: opts.commonName,
    issuerKey: opts.issuerKey,
    issuerName: opts.issuerName,
    serial: randomSerial(),
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      extension(OID.keyUsage, true, der.namedBits([KeyUsage.digitalSignature])),
      extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
      ...altNames(opts.dnsNames ?? [], opts.ipAddresses ?? []),
    ],
  });
}

// Whole seconds, and a minute back so a peer with a slightly slow clock still accepts it.
function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + days * 86_400_000) };
}

function altNames(dnsNames: string[], ipAddresses: string[]): Uint8Array[] {
  return dnsNames.length + ipAddresses.length > 0 ? [extension(OID.subjectAltName, false, subjectAltName(dnsNames, ipAddresses))] : [];
}

function commonNameOf(cn: string): Uint8Array {
  if (!cn) throw new RangeError("certificate needs a common name");
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(cn))));
}

/** Encodes and signs a v3 certificate. */
function build(c: {
  subjectKey: KeyObject;
  subjectName: string;
  issuerKey: KeyObject;
  issuerName: string;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: Uint8Array[];
}): string {
  const signer = signerFor(c.issuerKey);
  const spki = new Uint8Array(createPublicKey(c.subjectKey).export({ type: "spki", format: "der" }));
  const algorithm = der.sequence(der.oid(signer.oid)); // Ed25519 and ECDSA take no parameters.
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.integer(c.serial),
    algorithm,
    commonNameOf(c.issuerName),
    der.sequence(der.x509Time(c.notBefore), der.x509Time(c.notAfter)),
    commonNameOf(c.subjectName),
    spki,
    der.explicit(3, der.sequence(...c.extensions)),
  );
  const signature = new Uint8Array(sign(signer.hash, tbs, c.issuerKey));
  return pemEncode("CERTIFICATE", der.sequence(tbs, algorithm, der.bitString(signature)));
}

/** A fresh ECDSA P-256 private key: the server key type every TLS client supports. */
export function newServerKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
}

/** Whether a host name is an IP address (v4 or v6) rather than a DNS name. */
export function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** A fresh P-256 key and a self-signed TLS server certificate for `hosts` (DNS names and IPs), as PEM. */
export function newServerCertificate(hosts: readonly string[], commonName?: string, days = 3650): { key: string; cert: string } {
  const key = newServerKey();
  const unique = [...new Set(hosts)];
  return {
    key: key.export({ type: "pkcs8", format: "pem" }).toString(),
    cert: selfSignedCertificate({
      privateKey: key,
      commonName: commonName ?? unique.find((h) => !isIpAddress(h)) ?? unique[0] ?? "kms",
      dnsNames: unique.filter((h) => !isIpAddress(h)),
      ipAddresses: unique.filter(isIpAddress),
      days,
      purpose: "server",
    }),
  };
}
