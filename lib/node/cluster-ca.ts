/**
 * The cluster's CA. Every cluster has a CA derived from its credentials (an
 * Ed25519 key, so every node computes the very same CA certificate); it
 * issues each node's certificate, which serves clients and, under the server
 * name NODE_SERVERNAME, the other nodes, which accept no other issuer in
 * either direction. An HSM key's join CA (hsm/keys.ts) is made the same way.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import os from "node:os";
import { ed25519FromSeed } from "../identity/apikey.ts";
import { caCertificate, isIpAddress, issuedCertificate } from "../identity/x509.ts";
import { encodeBase64 } from "../encoding/base64.ts";

/** A PEM private key and certificate. */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

/** The server name nodes ask for (SNI) and verify when they dial each other; every node certificate carries it. */
export const NODE_SERVERNAME = "kms-node";
/** The server name a leader asks a fresh node for when it calls it to join: answered with a certificate of its join CA. */
export const JOIN_SERVERNAME = "kms-join";
/** How long a node certificate is valid; a new one is issued at every start. */
const NODE_CERT_DAYS = 3650;

/** The cluster's CA: its key and certificate, the same on every node holding the cluster's credentials. */
export interface ClusterCa {
  readonly key: KeyObject;
  readonly name: string;
  readonly cert: string;
  readonly x509: X509Certificate;
}

const cas = new WeakMap<Uint8Array, ClusterCa>();

/** The CA whose Ed25519 key is `seed` (the credentials' `ca`, or an HSM key's join CA): the same on every node. */
export function clusterCa(seed: Uint8Array): ClusterCa {
  let ca = cas.get(seed);
  if (ca) return ca;
  const key = ed25519FromSeed(seed);
  const tag = createHash("sha256").update(createPublicKey(key).export({ type: "spki", format: "der" })).digest();
  // A name per CA, so clients trusting two clusters' CAs never confuse them; fixed fields so every node agrees.
  const name = `kms cluster CA ${tag.subarray(0, 8).toString("hex")}`;
  const cert = caCertificate({
    privateKey: key,
    commonName: name,
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date("2124-01-01T00:00:00Z"),
    serial: tag.subarray(8, 24),
  });
  cas.set(seed, ca = { key, name, cert, x509: new X509Certificate(cert) });
  return ca;
}

/** A certificate for `key` issued by the cluster CA, for `hosts`, NODE_SERVERNAME and JOIN_SERVERNAME. */
export function issueNodeCertificate(ca: ClusterCa, key: KeyObject, hosts: readonly string[]): string {
  const names = [...new Set([NODE_SERVERNAME, JOIN_SERVERNAME, "localhost", ...hosts])];
  return issuedCertificate({
    subjectKey: key,
    commonName: "kms node",
    dnsNames: names.filter((h) => !isIpAddress(h)),
    ipAddresses: names.filter(isIpAddress),
    days: NODE_CERT_DAYS,
    issuerKey: ca.key,
    issuerName: ca.name,
  });
}

/** The node's key (PEM) with a certificate issued now by `ca` for the node's host names and addresses. */
export function nodeTls(keyPem: string, ca: ClusterCa, hosts: readonly string[]): TlsMaterial {
  return { key: keyPem, cert: issueNodeCertificate(ca, createPrivateKey(keyPem), [os.hostname(), "127.0.0.1", "::1", ...hosts]) };
}

/** Certificates (base64 DER) that verified, with when they expire: peers present the same few on every call. */
const verified = new WeakMap<ClusterCa, Map<string, number>>();

/** Whether a DER certificate was issued by the cluster CA and is valid now. */
export function issuedByCluster(ca: ClusterCa, der: Uint8Array): boolean {
  const now = Date.now();
  let seen = verified.get(ca);
  if (!seen) verified.set(ca, seen = new Map());
  const id = encodeBase64(der);
  const until = seen.get(id);
  if (until !== undefined) return now <= until;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return false;
  }
  if (!(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo))) return false;
  if (!cert.checkIssued(ca.x509) || !cert.verify(ca.x509.publicKey)) return false;
  if (seen.size >= 256) seen.clear(); // a cluster has at most 64 nodes, each with one certificate per start
  seen.set(id, Date.parse(cert.validTo));
  return true;
}
