/**
 * Self-signed X.509 v3 certificates (RFC 5280) for Ed25519 and ECDSA keys:
 * client certificates that carry an API key's identity, and server
 * certificates that clients can pin as their own trust anchor.
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
const KeyUsage = { digitalSignature: 0, keyCertSign: 5 } as const;

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
  const signer = signerFor(opts.privateKey);
  if (!opts.commonName) throw new RangeError("certificate needs a common name");
  if (!(opts.days > 0)) throw new RangeError("certificate validity must be positive");
  const spki = new Uint8Array(createPublicKey(opts.privateKey).export({ type: "spki", format: "der" }));
  const algorithm = der.sequence(der.oid(signer.oid)); // Ed25519 and ECDSA take no parameters.
  const name = der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(opts.commonName))));

  // Whole seconds, and a minute back so a peer with a slightly slow clock still accepts it.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + opts.days * 86_400_000);

  const dnsNames = opts.dnsNames ?? [];
  const ipAddresses = opts.ipAddresses ?? [];
  const extensions = [
    // Peers pin these certificates as their own trust anchors. CA:FALSE because
    // rustls refuses a CA certificate as a leaf (CaUsedAsEndEntity); keyCertSign
    // because OpenSSL's issuer check (X509_check_issued, and chain building in
    // OpenSSL 1.1) refuses a self-signed certificate whose keyUsage lacks it.
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, der.namedBits([KeyUsage.digitalSignature, KeyUsage.keyCertSign])),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(opts.purpose === "server" ? OID.serverAuth : OID.clientAuth))),
  ];
  if (dnsNames.length + ipAddresses.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, subjectAltName(dnsNames, ipAddresses)));
  }

  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.integer(randomSerial()),
    algorithm,
    name,
    der.sequence(der.x509Time(notBefore), der.x509Time(notAfter)),
    name,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = new Uint8Array(sign(signer.hash, tbs, opts.privateKey));
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
