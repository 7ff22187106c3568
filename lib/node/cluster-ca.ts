/**
 * The cluster's CA. Every cluster has a CA derived from the HSM key (an
 * Ed25519 key, so every node computes the very same CA certificate); it
 * issues each node's certificate, which serves clients and, under the server
 * name NODE_SERVERNAME, the other nodes, which accept no other issuer in
 * either direction.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import type { SoftHsm } from "../hsm/soft.ts";
import { ed25519FromSeed } from "../identity/apikey.ts";
import { caCertificate, isIpAddress, issuedCertificate } from "../identity/x509.ts";
import { encodeBase64 } from "../encoding/base64.ts";

/** The server name nodes ask for (SNI) and verify when they dial each other; every node certificate carries it. */
export const NODE_SERVERNAME = "kms-node";
/** How long a node certificate is valid; a new one is issued at every start. */
const NODE_CERT_DAYS = 3650;

/** The cluster's CA: its key and certificate, the same on every node holding the HSM key. */
export interface ClusterCa {
  readonly key: KeyObject;
  readonly name: string;
  readonly cert: string;
  readonly x509: X509Certificate;
}

const cas = new WeakMap<SoftHsm, ClusterCa>();

/** The CA every node of a cluster (every holder of the HSM key) derives. */
export function clusterCa(hsm: SoftHsm): ClusterCa {
  let ca = cas.get(hsm);
  if (ca) return ca;
  const key = ed25519FromSeed(hsm.derive("cluster-ca"));
  const tag = createHash("sha256").update(createPublicKey(key).export({ type: "spki", format: "der" })).digest();
  // A name per HSM key, so clients trusting two clusters' CAs never confuse them; fixed fields so every node agrees.
  const name = `kms cluster CA ${tag.subarray(0, 8).toString("hex")}`;
  const cert = caCertificate({
    privateKey: key,
    commonName: name,
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date("2124-01-01T00:00:00Z"),
    serial: tag.subarray(8, 24),
  });
  cas.set(hsm, ca = { key, name, cert, x509: new X509Certificate(cert) });
  return ca;
}

/** A certificate for `key` issued by the cluster CA, for `hosts` and NODE_SERVERNAME. */
export function issueNodeCertificate(ca: ClusterCa, key: KeyObject, hosts: readonly string[]): string {
  const names = [...new Set([NODE_SERVERNAME, "localhost", ...hosts])];
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
