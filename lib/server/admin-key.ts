/**
 * The files that help the CLI with the cluster's admin API key
 * (node/admin-key.ts): `cluster.id` (public: which cluster the node belongs
 * to, needed to derive the key) and, when the server's output is not a
 * terminal, `admin.key` (mode 0600, written once by the node that created the
 * cluster).
 */
import { existsSync, readFileSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import path from "node:path";
import { CLUSTER_ID } from "../node/admin-key.ts";
import { writeFileAtomic } from "../store/atomic-file.ts";

/** The public file naming the node's cluster. */
export const CLUSTER_ID_FILE = "cluster.id";
/** The 0600 file a new cluster's admin API key is written to when the output is not a terminal. */
export const ADMIN_KEY_FILE = "admin.key";
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
