/**
 * A node's TLS material: its own key, kept encrypted in the store, with
 * certificates issued from it by whichever CA the node trusts
 * (node/cluster-ca.ts, node/node-keys.ts), which serve clients (unless
 * --tls-cert gives another) and the other nodes; and DIR/ca.crt, the CA
 * certificate clients trust.
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { newServerKey } from "../identity/x509.ts";
import type { ClusterCa, TlsMaterial } from "../node/cluster-ca.ts";
import { writeFileAtomic } from "../store/atomic-file.ts";
import type { Store } from "../store/store.ts";

export type { TlsMaterial };

const RECORD = "n/tls";
/** Where the cluster's CA certificate (public) is written, so clients can trust every node with --ca. */
export const CA_FILE = "ca.crt";

/** Reads a user-supplied certificate and key. */
export async function tlsFromFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key };
}

/**
 * The node's own TLS key, made on first start and kept encrypted in the store
 * like all state (PEM): certificates from whichever CA the node trusts are
 * issued for it.
 */
export async function nodeKey(store: Store, records: Map<string, Uint8Array>): Promise<string> {
  const saved = records.get(RECORD);
  if (saved) return (JSON.parse(new TextDecoder().decode(saved)) as TlsMaterial).key;
  const key = newServerKey().export({ type: "pkcs8", format: "pem" }).toString();
  await store.write([[RECORD, new TextEncoder().encode(JSON.stringify({ key }))]]);
  return key;
}

/** Writes the CA certificate clients are told to trust to DIR/ca.crt (at every start and whenever the CA changes). */
export async function writeCaFile(dir: string, ca: ClusterCa): Promise<void> {
  await writeFileAtomic(path.join(dir, CA_FILE), new TextEncoder().encode(ca.cert), 0o644);
  // Before the cluster CA, nodes wrote their self-signed certificate: it is stale now.
  await rm(path.join(dir, "server.crt"), { force: true });
}
