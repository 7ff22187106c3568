/** Crash-safe file replacement: a reader sees the old file or the new one, never a torn one. */
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Makes a directory's entries (creations, renames) durable by fsyncing the directory. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes bytes to path via temp file + fsync + rename + directory fsync, with the given mode. */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.tmp`);
  const handle = await open(temp, "w", mode);
  try {
    // open's mode is filtered by the umask and ignored for an existing file.
    await handle.chmod(mode);
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temp, path);
  await fsyncDir(dir);
}
