/**
 * One server per data directory: two processes on one libSQL file would each
 * serve their own in-memory state and overwrite each other on disk.
 */
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { DataDirError } from "./errors.ts";

/** The lock file; it holds the owner's process id. */
export const LOCK_FILE = "kms.lock";

/** Whether a process with this id exists (EPERM: it exists, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the data directory's lock, taking over a stale one; returns the function that releases it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new DataDirError(`${dir} is in use by another kms server (process ${pid})`);
    }
    await rm(file, { force: true }); // left behind by a process that died
  }
  throw new DataDirError(`${dir}: cannot take the lock ${LOCK_FILE}`);
}
