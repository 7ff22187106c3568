/**
 * The durable store. The server keeps all state in memory; this only makes it
 * durable. Every byte on disk is encrypted under a random root key that only
 * the HSM can unseal, and record keys are hidden behind HMAC ids.
 */
import { chmod, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Buffer } from "node:buffer";
import { eq, sql } from "drizzle-orm";
import type { SoftHsm } from "../hsm/soft.ts";
import { fsyncDir } from "./atomic-file.ts";
import { createDatabase, type Database, DB_FILE, openDatabase } from "./database.ts";
import { inspectDataDir } from "./data-dir.ts";
import { lockDataDir } from "./lock.ts";
import { DataDirError } from "./errors.ts";
import { RecordCipher } from "./records.ts";
import { createRootKey, readRootKey } from "./root-key.ts";
import { records } from "./schema.ts";

export { DataDirError } from "./errors.ts";

export interface Store {
  /** True when this call created a new data directory. */
  readonly created: boolean;
  /** Every record, decrypted and verified. */
  load(): Promise<Map<string, Uint8Array>>;
  /** Applies puts (Uint8Array) and deletes (null) in one durable transaction. */
  write(changes: ReadonlyArray<readonly [key: string, value: Uint8Array | null]>): Promise<void>;
  close(): Promise<void>;
}

/** Opens the data directory dir, creating it when missing or empty; the HSM must match an existing one. */
export async function openStore(dir: string, hsm: SoftHsm): Promise<Store> {
  const state = await inspectDataDir(dir);
  const dbPath = join(dir, DB_FILE);
  if (state === "existing") {
    // Unseal before touching the database, so a wrong HSM key changes nothing.
    const root = await readRootKey(dir, hsm);
    const cipher = new RecordCipher(root);
    root.fill(0);
    const unlock = await lockDataDir(dir);
    try {
      return new LibsqlStore(false, dbPath, await openDatabase(dbPath), cipher, unlock);
    } catch (err) {
      await unlock();
      throw err;
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask, and an existing empty dir keeps its own.
  await chmod(dir, 0o700);
  if (state === "missing") await fsyncDir(dirname(resolve(dir)));
  const unlock = await lockDataDir(dir);
  const root = await createRootKey(dir, hsm);
  const cipher = new RecordCipher(root);
  root.fill(0);
  const database = await createDatabase(dbPath);
  await fsyncDir(dir);
  return new LibsqlStore(true, dbPath, database, cipher, unlock);
}

class LibsqlStore implements Store {
  readonly created: boolean;
  #path: string;
  #database: Database;
  #cipher: RecordCipher;
  // Operations run one at a time, in call order, on the single connection.
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #unlock: () => Promise<void>;

  constructor(created: boolean, path: string, database: Database, cipher: RecordCipher, unlock: () => Promise<void>) {
    this.created = created;
    this.#unlock = unlock;
    this.#path = path;
    this.#database = database;
    this.#cipher = cipher;
  }

  async load(): Promise<Map<string, Uint8Array>> {
    return this.#run(async () => {
      const rows = await this.#database.db.select().from(records);
      const out = new Map<string, Uint8Array>();
      for (const row of rows) {
        const opened = this.#cipher.open({ id: row.id, value: row.value });
        if (opened === null) {
          // The id is an HMAC output: it identifies the row without revealing its key.
          const id = Buffer.from(row.id).toString("hex").slice(0, 16);
          throw new DataDirError(`record ${id}… in ${this.#path} is corrupt: it does not decrypt and verify under this data directory's key`);
        }
        out.set(opened[0], opened[1]);
      }
      return out;
    });
  }

  async write(changes: ReadonlyArray<readonly [key: string, value: Uint8Array | null]>): Promise<void> {
    if (this.#closed) throw new Error("the store is closed");
    // Encrypt up front: a bad argument then fails before anything is written.
    const { db } = this.#database;
    const statements = changes.map(([key, value]) => {
      if (value === null) {
        return db.delete(records).where(eq(records.id, Buffer.from(this.#cipher.id(key)))).toSQL();
      }
      if (!(value instanceof Uint8Array)) throw new TypeError("record values must be Uint8Array or null");
      const row = this.#cipher.seal(key, value);
      return db
        .insert(records)
        .values({ id: Buffer.from(row.id), value: Buffer.from(row.value) })
        .onConflictDoUpdate({ target: records.id, set: { value: sql`excluded.value` } })
        .toSQL();
    });
    // No await before #run: the write is queued in call order.
    return this.#run(async () => {
      if (statements.length === 0) return;
      const { client } = this.#database;
      // The pool may replace a failed connection; a new one must not run with weaker durability.
      await client.execute("PRAGMA synchronous=FULL");
      await client.batch(statements.map((s) => ({ sql: s.sql, args: s.params as never[] })), "write");
    });
  }

  close(): Promise<void> {
    if (this.#closed) return this.#queue.then(() => {}, () => {});
    this.#closed = true;
    const done = this.#queue.then(() => {}, () => {}).then(() => this.#database.client.close()).then(() => this.#unlock());
    this.#queue = done;
    return done;
  }

  #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the store is closed"));
    const result = this.#queue.then(operation);
    // A failed operation must not block the ones queued after it.
    this.#queue = result.catch(() => {});
    return result;
  }
}
