/** Shared test fixtures: temp data directories, file snapshots, and secret scans. */
import { Buffer } from "node:buffer";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs fn with a fresh temp directory that is removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kms-store-test-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file under dir (recursively): relative name → mode, size and bytes. */
export async function snapshot(dir: string): Promise<Map<string, { mode: number; size: number; bytes: Uint8Array }>> {
  const out = new Map<string, { mode: number; size: number; bytes: Uint8Array }>();
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    try {
      const info = await stat(path);
      if (info.isDirectory()) {
        out.set(entry + "/", { mode: info.mode & 0o7777, size: 0, bytes: new Uint8Array(0) });
      } else {
        out.set(entry, { mode: info.mode & 0o7777, size: info.size, bytes: new Uint8Array(await readFile(path)) });
      }
    } catch (err) {
      // SQLite removes kms.db-wal and -shm when a closed store's last connection is
      // collected, which may be while we list: a file gone by then holds nothing.
      if ((err as { code?: string }).code !== "ENOENT") throw err;
    }
  }
  return out;
}

/** The encodings a secret might leak in: raw, hex (both cases), base64 and base64url. */
export function encodings(secret: Uint8Array | string): Uint8Array[] {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  const buf = Buffer.from(bytes);
  const hex = buf.toString("hex");
  const forms = [hex, hex.toUpperCase(), buf.toString("base64"), buf.toString("base64").replace(/=+$/, ""), buf.toString("base64url")];
  return [bytes, ...forms.map((s) => new TextEncoder().encode(s)), Buffer.from(bytes.length ? new TextDecoder().decode(bytes) : "", "utf16le")].filter((b) => b.length > 0);
}

/** Names of the files under dir containing any encoding of any secret, as "file: secret#n". */
export async function findSecrets(dir: string, secrets: Array<Uint8Array | string>): Promise<string[]> {
  const hits: string[] = [];
  for (const [name, file] of await snapshot(dir)) {
    const haystack = Buffer.from(file.bytes);
    secrets.forEach((secret, i) => {
      for (const needle of encodings(secret)) {
        if (haystack.indexOf(needle) !== -1) hits.push(`${name}: secret#${i}`);
      }
    });
  }
  return hits;
}
