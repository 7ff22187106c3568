/**
 * One server per data directory: two processes on one libSQL file would each
 * serve their own in-memory state and overwrite each other on disk.
 *
 * The lock is a Linux abstract-namespace socket named after the directory:
 * binding it is atomic, and the kernel releases it when the process dies, so
 * there is no stale lock to take over and no race in taking one over.
 */
import { createHash } from "node:crypto";
import { realpath } from "node:fs/promises";
import net from "node:net";
import { DataDirError } from "./errors.ts";

/** Takes the data directory's lock; returns the function that releases it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const id = createHash("sha256").update(await realpath(dir)).digest("hex").slice(0, 32);
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new DataDirError(`${dir} is in use by another kms server`) : err)
    );
    server.listen(`\0kms-data-dir-${id}`, () => resolve());
  });
  server.unref(); // the lock alone must not keep a process alive
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
