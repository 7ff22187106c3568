/**
 * The cluster's admin API key (privilege SysAdmin): derived from the HSM key
 * and the cluster id, so two clusters sharing an HSM key never share it, and
 * never stored in the state. Operators can disable it once a stored SysAdmin
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
import { existsSync, readFileSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import path from "node:path";
import { equal } from "../crypto/constant-time.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { apiKeyFromSeed, parseApiKey } from "../identity/apikey.ts";
import { writeFileAtomic } from "../store/atomic-file.ts";

/** The public file naming the node's cluster. */
export const CLUSTER_ID_FILE = "cluster.id";
/** The 0600 file a new cluster's admin API key is written to when the output is not a terminal. */
export const ADMIN_KEY_FILE = "admin.key";
/** How far a re-enable proof's time may be from the node's clock. */
export const PROOF_WINDOW_MS = 5 * 60_000;

const CLUSTER_ID = /^[0-9a-f]{32}$/;

/** The admin API key of `cluster` under this HSM key. */
export function adminApiKey(hsm: SoftHsm, cluster: string): string {
  if (!CLUSTER_ID.test(cluster)) throw new RangeError("invalid cluster id");
  return apiKeyFromSeed(hsm.derive(`admin-api-key/${cluster}`));
}

/** The h1: identity of the admin API key of `cluster`. */
export function adminIdentityOf(hsm: SoftHsm, cluster: string): string {
  return parseApiKey(adminApiKey(hsm, cluster)).identity;
}

/** Proof of the HSM key for re-enabling the admin API key of `cluster` at time `at` (ms). */
export function adminKeyProof(hsm: SoftHsm, cluster: string, at: number): Uint8Array {
  const key = hsm.derive(`admin-key-recovery/${cluster}`);
  return new Uint8Array(createHmac("sha256", key).update(`kms/v1/admin-key/enable:${cluster}:${at}`).digest());
}

/** Whether `proof` is the HSM's proof for `cluster` at `at` (compared in constant time). */
export function validAdminKeyProof(hsm: SoftHsm, cluster: string, at: number, proof: Uint8Array): boolean {
  return equal(adminKeyProof(hsm, cluster, at), proof);
}

/** Records the node's cluster id in DIR/cluster.id (public). */
export async function writeClusterId(dir: string, cluster: string): Promise<void> {
  await writeFileAtomic(path.join(dir, CLUSTER_ID_FILE), new TextEncoder().encode(cluster + "\n"), 0o644);
}

/** The cluster id a data directory's node belongs to; throws a clear error when DIR has none. */
export function readClusterId(dir: string): string {
  const file = path.join(dir, CLUSTER_ID_FILE);
  if (!existsSync(file)) throw new Error(`${file} does not exist: is ${dir} a kms data directory (started at least once)?`);
  const id = readFileSync(file, "utf8").trim();
  if (!CLUSTER_ID.test(id)) throw new Error(`${file} does not hold a cluster id`);
  return id;
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
