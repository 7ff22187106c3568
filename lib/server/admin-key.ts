/**
 * The cluster's admin API key (privilege SysAdmin): derived from the
 * cluster's credentials (credentials.ts), so two clusters never share it, it
 * survives HSM key rotation, and it is never stored in the state. Operators can disable it once a stored SysAdmin
 * exists (a replicated setting) and re-enable it with proof of the HSM key —
 * a proof the admin key itself does not give, so a leaked admin key cannot
 * turn itself back on.
 *
 * Two plain files in the data directory help the CLI: `cluster.id` (public:
 * which cluster the node belongs to, needed to derive the key) and, when the
 * server's output is not a terminal, `admin.key` (mode 0600, written once by
 * the node that created the cluster).
 */
import { createHmac } from "node:crypto";
import { open, rm } from "node:fs/promises";
import path from "node:path";
import { equal } from "../crypto/constant-time.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { apiKeyFromSeed, parseApiKey } from "../identity/apikey.ts";
import { type ClusterCredentials, credentialsOf } from "./credentials.ts";

export { CLUSTER_ID_FILE, readClusterId, writeClusterId } from "./credentials.ts";
/** The 0600 file a new cluster's admin API key is written to when the output is not a terminal. */
export const ADMIN_KEY_FILE = "admin.key";
/** How far a re-enable proof's time may be from the node's clock. */
export const PROOF_WINDOW_MS = 5 * 60_000;

/** The admin API key of a cluster with these credentials. */
export function adminApiKey(creds: ClusterCredentials): string {
  return apiKeyFromSeed(creds.admin);
}

/** The h1: identity of the admin API key. */
export function adminIdentityOf(creds: ClusterCredentials): string {
  return parseApiKey(adminApiKey(creds)).identity;
}

/** The admin API key of the cluster whose node keeps its data in `dir`, unsealed with `hsm` ('kms identity --hsm DIR'). */
export function adminApiKeyOf(dir: string, hsm: SoftHsm): string {
  return adminApiKey(credentialsOf(dir, hsm));
}

/**
 * Proof, for re-enabling the admin API key of `cluster` at time `at` (ms), that
 * the caller unsealed a data directory of the cluster with one of its HSM keys.
 */
export function adminKeyProof(creds: ClusterCredentials, cluster: string, at: number): Uint8Array {
  return new Uint8Array(createHmac("sha256", creds.recovery).update(`kms/v1/admin-key/enable:${cluster}:${at}`).digest());
}

/** Whether `proof` is the proof for `cluster` at `at` (compared in constant time). */
export function validAdminKeyProof(creds: ClusterCredentials, cluster: string, at: number, proof: Uint8Array): boolean {
  return equal(adminKeyProof(creds, cluster, at), proof);
}

/** Writes the admin API key to DIR/admin.key, mode 0600, unless the file exists; returns its path. */
export async function writeAdminKeyFile(dir: string, apiKey: string): Promise<string> {
  const file = path.join(dir, ADMIN_KEY_FILE);
  try {
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.chmod(0o600); // the umask may have narrowed it; never widened
      await handle.writeFile(apiKey + "\n");
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return file;
}

/** Removes DIR/admin.key (the node joined another cluster: the key it holds opens nothing). */
export async function removeAdminKeyFile(dir: string): Promise<void> {
  await rm(path.join(dir, ADMIN_KEY_FILE), { force: true });
}
