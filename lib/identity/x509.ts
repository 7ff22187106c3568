/**
 * X.509 v3 certificates (RFC 5280) for Ed25519 and ECDSA keys: self-signed
 * client certificates that carry an API key's identity, self-signed server
 * certificates that clients can pin as their own trust anchor, and a CA with
 * the leaf certificates it issues (the cluster CA of lib/node/cluster-ca.ts).
 * The ASN.1 schema and its DER are @peculiar/asn1-x509's; node:crypto signs,
 * so every function here stays synchronous.
 */

import { Buffer } from "node:buffer";
import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { pem } from "@peculiar/utils/pem";
import { Integer } from "asn1js";
import { ipAddressBytes } from "./ip.ts";

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
} as const;

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

function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function keyUsage(...flags: KeyUsageFlags[]): Extension {
  return extension(id_ce_keyUsage, true, new KeyUsage(flags.reduce((all, flag) => all | flag, 0)));
}

function altNames(dnsNames: string[], ipAddresses: string[]): Extension[] {
  if (dnsNames.length + ipAddresses.length === 0) return [];
  const names = [
    ...dnsNames.map((name) => new GeneralName({ dNSName: dnsName(name) })),
    ...ipAddresses.map((ip) => new GeneralName({ iPAddress: ipText(ip) })),
  ];
  return [extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names))];
}

function dnsName(name: string): string {
  // dNSName is an IA5String; internationalized names must arrive as A-labels.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`invalid DNS name: ${name}`);
  return name;
}

/**
 * The address in the one text form the library's converter reads without
 * ambiguity (a dotted quad, or eight hex groups); ip.ts does the strict parse.
 */
function ipText(ip: string): string {
  const bytes = ipAddressBytes(ip);
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/** The INTEGER content of a positive serial: minimal, with a zero byte where the high bit is set. */
function serialNumber(magnitude: Uint8Array): ArrayBuffer {
  const value = BigInt("0x" + (Buffer.from(magnitude).toString("hex") || "0"));
  return new Uint8Array(Integer.fromBigInt(value).valueBlock.valueHexView).slice().buffer;
}

function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  // A zero serial is not allowed; serialNumber adds a sign byte so the value stays positive.
  if (serial.every((b) => b === 0)) serial[15] = 1;
  return serial;
}

/** Creates a self-signed certificate for `privateKey` and returns it as PEM. */
export function selfSignedCertificate(opts: CertificateOptions): string {
  // Peers pin these certificates as their own trust anchors. CA:FALSE because
  // rustls refuses a CA certificate as a leaf (CaUsedAsEndEntity); keyCertSign
  // because OpenSSL's issuer check (X509_check_issued, and chain building in
  // OpenSSL 1.1) refuses a self-signed certificate whose keyUsage lacks it.
  const { privateKey, commonName, purpose, ...rest } = opts;
  return leaf(
    { ...rest, subjectKey: privateKey, commonName, issuerKey: privateKey, issuerName: commonName },
    [KeyUsageFlags.digitalSignature, KeyUsageFlags.keyCertSign],
    [purpose === "server" ? id_kp_serverAuth : id_kp_clientAuth],
  );
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
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
      keyUsage(KeyUsageFlags.digitalSignature, KeyUsageFlags.keyCertSign, KeyUsageFlags.cRLSign),
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
  return leaf(opts, [KeyUsageFlags.digitalSignature], [id_kp_serverAuth, id_kp_clientAuth]);
}

/** A certificate that is no CA (CA:FALSE), with the given key usages and extended key usages. */
function leaf(opts: IssuedOptions, usage: KeyUsageFlags[], purposes: string[]): string {
  return build({
    ...fresh(opts.days),
    subjectKey: opts.subjectKey,
    subjectName: opts.commonName,
    issuerKey: opts.issuerKey,
    issuerName: opts.issuerName,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints()),
      keyUsage(...usage),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage(purposes)),
      ...altNames(opts.dnsNames ?? [], opts.ipAddresses ?? []),
    ],
  });
}

/** A random serial and a validity of `days` from now: whole seconds, and a minute back so a peer with a slightly slow clock still accepts it. */
function fresh(days: number): { serial: Uint8Array; notBefore: Date; notAfter: Date } {
  if (!(days > 0)) throw new RangeError("certificate validity must be positive");
  const now = Math.floor(Date.now() / 1000) * 1000;
  return { serial: randomSerial(), notBefore: new Date(now - 60_000), notAfter: new Date(now + days * 86_400_000) };
}

function commonNameOf(cn: string): Name {
  if (!cn) throw new RangeError("certificate needs a common name");
  const attribute = new AttributeTypeAndValue({ type: OID.commonName, value: new AttributeValue({ utf8String: cn }) });
  return new Name([new RelativeDistinguishedName([attribute])]);
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
  extensions: Extension[];
}): string {
  const signer = signerFor(c.issuerKey);
  const spki = createPublicKey(c.subjectKey).export({ type: "spki", format: "der" });
  const algorithm = new AlgorithmIdentifier({ algorithm: signer.oid }); // Ed25519 and ECDSA take no parameters.
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(c.serial),
    signature: algorithm,
    issuer: commonNameOf(c.issuerName),
    validity: new Validity({ notBefore: c.notBefore, notAfter: c.notAfter }),
    subject: commonNameOf(c.subjectName),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions(c.extensions),
  });
  const signature = sign(signer.hash, new Uint8Array(AsnConvert.serialize(tbsCertificate)), c.issuerKey);
  const cert = new Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).slice().buffer });
  return pem.encode("CERTIFICATE", AsnConvert.serialize(cert));
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
