/**
 * A node's TLS material: its own key, kept encrypted in the store, with a
 * certificate issued at every start by the cluster CA (node/cluster-ca.ts),
 * which serves clients (unless --tls-cert gives another) and the other
 * nodes; and DIR/ca.crt, the CA certificate clients trust.
 */
import { createPrivateKey } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SoftHsm } from "../hsm/soft.ts";
import { newServerKey } from "../identity/x509.ts";
import { clusterCa, issueNodeCertificate } from "../node/cluster-ca.ts";
import type { Store } from "../store/store.ts";

/** A PEM private key and certificate. */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

const RECORD = "n/tls";
/** Where the cluster's CA certificate (public) is written, so clients can trust every node with --ca. */
export const CA_FILE = "ca.crt";

/** Reads a user-supplied certificate and key. */
export async function tlsFromFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key };
}

/**
 * The node's key (made on first start, kept encrypted in the store like all
 * state) with a certificate issued now by the cluster CA for the node's host
 * names and addresses; writes the CA certificate to DIR/ca.crt.
 */
export async function nodeTls(dir: string, store: Store, records: Map<string, Uint8Array>, hosts: readonly string[], hsm: SoftHsm): Promise<TlsMaterial> {
  const ca = clusterCa(hsm);
  const saved = records.get(RECORD);
  let keyPem: string;
  if (saved) {
    keyPem = (JSON.parse(new TextDecoder().decode(saved)) as TlsMaterial).key;
  } else {
    keyPem = newServerKey().export({ type: "pkcs8", format: "pem" }).toString();
  }
  const cert = issueNodeCertificate(ca, createPrivateKey(keyPem), [os.hostname(), "127.0.0.1", "::1", ...hosts]);
  const material: TlsMaterial = { key: keyPem, cert };
  if (!saved) await store.write([[RECORD, new TextEncoder().encode(JSON.stringify(material))]]);
  // Clients are told to trust this file: (re)write it at every start. Before
  // the cluster CA, nodes wrote their self-signed certificate: it is stale now.
  await writeFile(path.join(dir, CA_FILE), ca.cert, { mode: 0o644 });
  await rm(path.join(dir, "server.crt"), { force: true });
  return material;
}
