/**
 * The durable store. The server keeps all state in memory; this only makes it
 * durable. Every byte on disk is encrypted under a random root key that only
 * the HSM can unseal, record keys are hidden behind HMAC ids, and a sealed
 * digest binds the rows as a whole (digest.ts), checked at open.
 */
import { chmod, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { SoftHsm } from "../hsm/soft.ts";
import { fsyncDir } from "./atomic-file.ts";
import { checkpoint, createDatabase, type Database, DB_FILE, openDatabase } from "./database.ts";
import { inspectDataDir } from "./data-dir.ts";
import { type DigestPlan, StateDigest } from "./digest.ts";
import { lockDataDir } from "./lock.ts";
import { migrateV1 } from "./migrate.ts";
import { RecordCipher } from "./records.ts";
import { createRootKey, readRootSeal, type SealRecipient, type Unsealed, writeRootSeal } from "./root-key.ts";
import { type RowChange, RowWriter } from "./writer.ts";
import { loadVerified, type Taken } from "./verify.ts";

export { DataDirError } from "./errors.ts";
export type { Taken } from "./verify.ts";

export interface Store {
  /** True when this call created a new data directory. */
  readonly created: boolean;
  /** Writes made to the directory over its life (sealed with the digest): only ever grows. */
  readonly generation: number;
  /** Every record, decrypted and verified (the first load after an open with `take`: but those taken). */
  load(): Promise<Map<string, Uint8Array>>;
  /**
   * Applies puts (Uint8Array) and deletes (null) in one transaction, durable
   * (fsynced) when it resolves unless `durable` is false: then it is atomic and
   * ordered (the next durable write makes it durable too) but a power loss or a
   * crash may undo it, for data that can be rebuilt from what was written
   * durably; it may wait in memory (at most 50 ms) to share the next write's
   * transaction. load(), erase() and close() write it first.
   */
  write(changes: ReadonlyArray<readonly [key: string, value: Uint8Array | null]>, durable?: boolean): Promise<void>;
  /**
   * Makes every record deleted or overwritten so far unrecoverable from the
   * directory's files: their cells are already zeroed (secure_delete); this
   * truncates the WAL, which may still hold old page images.
   */
  erase(): Promise<void>;
  /** What root.seal held besides the root key when the store opened (null: a format 1 file), and whom it was sealed for. */
  readonly seal: Pick<Unsealed, "extra" | "sealedFor" | "version">;
  /** Rewrites root.seal: the root key with `extra`, sealed for every recipient (the configured HSM keys). */
  reseal(extra: Uint8Array, recipients: readonly SealRecipient[]): Promise<void>;
  close(): Promise<void>;
}

/** How to open a store. */
export interface OpenOptions {
  /** What a new directory's root.seal holds besides the root key (the cluster credentials). */
  readonly extra?: () => Uint8Array;
  /**
   * Hands each record of an existing directory to a holder as it is read and
   * authenticated at open ("taken": left out of the first load(), so a
   * server's start never holds all its records at once; "twice": the holder
   * has that key already). The open may still fail after (the sealed digest
   * is checked once every row is read): then whatever was taken must go.
   */
  readonly take?: (key: string, value: Uint8Array) => Taken;
}

/**
 * Opens the data directory dir, creating it when missing or empty; the HSM must
 * match an existing one, and its records must match their sealed digest
 * (DataDirError, nothing changed, otherwise). A directory of an older format
 * is migrated to the current one.
 */
export async function openStore(dir: string, hsm: SoftHsm, opts: OpenOptions = {}): Promise<Store> {
  const state = await inspectDataDir(dir);
  const dbPath = join(dir, DB_FILE);
  if (state === "existing") {
    // Unseal before touching the database, so a wrong HSM key changes nothing.
    const { root, ...seal } = readRootSeal(dir, hsm);
    const cipher = new RecordCipher(root);
    const digest = StateDigest.fromRoot(root);
    const unlock = await lockDataDir(dir);
    let database: Database | undefined;
    try {
      database = await openDatabase(dbPath);
      const loaded = database.version === 1
        ? await migrateV1(database, dbPath, cipher, digest)
        : await loadVerified(database, dbPath, cipher, digest, opts.take);
      // Verified: now the WAL the last run left (which may hold old page images) can go; if a
      // stray reader holds it back, the next erase() will do it.
      await checkpoint(database.client);
      return new LibsqlStore(false, dir, database, { cipher, digest, root, seal }, unlock, loaded);
    } catch (err) {
      root.fill(0);
      database?.client.close();
      await unlock();
      throw err;
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask, and an existing empty dir keeps its own.
  await chmod(dir, 0o700);
  if (state === "missing") await fsyncDir(dirname(resolve(dir)));
  const unlock = await lockDataDir(dir);
  const extra = opts.extra?.() ?? new Uint8Array(0);
  const root = await createRootKey(dir, hsm, extra);
  const cipher = new RecordCipher(root);
  const digest = StateDigest.fromRoot(root);
  const database = await createDatabase(dbPath, digest.sealCurrent());
  await fsyncDir(dir);
  const seal = { extra, sealedFor: [hsm.fingerprint], version: 2 as const };
  return new LibsqlStore(true, dir, database, { cipher, digest, root, seal }, unlock, new Map());
}

/** An unsynced write waits at most this long for a write to carry it (a Ready's turn is far shorter). */
const HOLD_MS = 50;
/** Past this many rows held, they are written at once: memory stays bounded whatever the pace. */
const HOLD_ROWS = 4096;

/** Sealed rows to write, with their digest shares (null: deleted). */
interface Batch {
  readonly rows: RowChange[];
  readonly shares: Array<readonly [Uint8Array, string | null]>;
}

/** The keys a store works with, unsealed from root.seal. */
interface StoreKeys {
  readonly cipher: RecordCipher;
  readonly digest: StateDigest;
  /** Kept to reseal root.seal when the configured HSM keys change; zeroed at close. */
  readonly root: Uint8Array;
  readonly seal: Store["seal"];
}

class LibsqlStore implements Store {
  readonly created: boolean;
  readonly seal: Store["seal"];
  #dir: string;
  #root: Uint8Array;
  #path: string;
  #database: Database;
  #cipher: RecordCipher;
  #digest: StateDigest;
  /** The records read (and verified) at open, handed to the first load() if nothing was written before it. */
  #opened: Map<string, Uint8Array> | undefined;
  // Operations run one at a time, in call order, on the single connection.
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #unlock: () => Promise<void>;
  /** The write connection, opened on the first write (after any migration the client ran). */
  #rowWriter: RowWriter | undefined;
  /** Unsynced writes not yet written (#hold), in call order, and the timer that writes them. */
  #held: Batch | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** A held write that failed on its own: every later operation fails with it. */
  #failure: unknown;

  constructor(created: boolean, dir: string, database: Database, keys: StoreKeys, unlock: () => Promise<void>, opened: Map<string, Uint8Array>) {
    this.created = created;
    this.#unlock = unlock;
    this.#dir = dir;
    this.#path = join(dir, DB_FILE);
    this.#database = database;
    this.#cipher = keys.cipher;
    this.#digest = keys.digest;
    this.#root = keys.root;
    this.seal = keys.seal;
    this.#opened = opened;
  }

  reseal(extra: Uint8Array, recipients: readonly SealRecipient[]): Promise<void> {
    // Queued with the writes, so two reseals never race on the file.
    return this.#run(() => writeRootSeal(this.#dir, this.#root, extra, recipients));
  }

  get generation(): number {
    return this.#digest.writes;
  }

  load(): Promise<Map<string, Uint8Array>> {
    return this.#run(() => {
      this.#flush();
      const opened = this.#opened;
      this.#opened = undefined;
      // Later loads (tests, tools) read and verify everything again, against a fresh digest.
      return opened ?? loadVerified(this.#database, this.#path, this.#cipher, this.#digest.fresh());
    });
  }

  async write(changes: ReadonlyArray<readonly [key: string, value: Uint8Array | null]>, durable = true): Promise<void> {
    if (this.#closed) throw new Error("the store is closed");
    // Encrypt up front: a bad argument then fails before anything is written.
    const batch: Batch = { rows: [], shares: [] };
    for (const [key, value] of changes) {
      if (value === null) {
        const id = this.#cipher.id(key);
        batch.shares.push([id, null]);
        batch.rows.push([id, null]);
        continue;
      }
      if (!(value instanceof Uint8Array)) throw new TypeError("record values must be Uint8Array or null");
      const row = this.#cipher.seal(key, value);
      batch.shares.push([row.id, this.#digest.share(row.id, row.value)]);
      batch.rows.push([row.id, row.value]);
    }
    // No await before #run: the write is queued in call order.
    return this.#run(() => {
      if (batch.rows.length === 0) return;
      this.#opened = undefined; // no longer what is on disk
      if (durable) return this.#commit(batch, true);
      this.#hold(batch);
    });
  }

  /**
   * Keeps an unsynced write for the next write to carry in its transaction
   * (one transaction per Ready instead of three: the log append, the commit
   * index, the applied records), or writes what is held after HOLD_MS, or
   * at once past HOLD_ROWS. Only unsynced writes wait: a power loss could undo
   * them anyway, so losing them to a crash changes nothing the log does not
   * restore (docs/performance.md, "Sixth changes: writes").
   */
  #hold(batch: Batch): void {
    const held = this.#held ??= { rows: [], shares: [] };
    for (const row of batch.rows) held.rows.push(row);
    for (const share of batch.shares) held.shares.push(share);
    if (held.rows.length >= HOLD_ROWS) return this.#commit({ rows: [], shares: [] }, false);
    if (this.#holdTimer !== undefined) return;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      // A write failing here fails every later one: the caller that would have heard of it has moved on.
      this.#run(() => this.#flush()).catch((err) => (this.#failure ??= err));
    }, HOLD_MS);
    (this.#holdTimer as { unref?: () => void }).unref?.();
  }

  /** Writes what is held, if anything, on its own (unsynced). */
  #flush(): void {
    if (this.#held) this.#commit({ rows: [], shares: [] }, false);
  }

  /** Writes `batch` after what is held, in one transaction. */
  #commit(batch: Batch, durable: boolean): void {
    const held = this.#held;
    this.#held = undefined;
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    const rows = held ? held.rows.concat(batch.rows) : batch.rows;
    const shares = held ? held.shares.concat(batch.shares) : batch.shares;
    // The digest moves in the same transaction as the rows, and in memory only once that is durable.
    let plan: DigestPlan | undefined;
    this.#writer().write(rows, (stored) => {
      plan = this.#digest.plan(shares, (id) => {
        const value = stored(id);
        return value === undefined ? null : this.#digest.share(id, value);
      });
      return plan.meta;
    }, durable);
    plan!.commit();
  }

  erase(): Promise<void> {
    return this.#run(async () => {
      this.#flush(); // what is held may delete records
      if (!(await checkpoint(this.#database.client))) throw new Error("the WAL checkpoint could not complete: another connection is reading the database");
    });
  }

  close(): Promise<void> {
    if (this.#closed) return this.#queue.then(() => {}, () => {});
    this.#closed = true;
    const done = this.#queue.then(() => {}, () => {}).then(async () => {
      // Best effort, as any unsynced write: the log restores what a failure here loses.
      try {
        if (!this.#failure) this.#flush();
      } catch {
        // nothing more to do: the store is closing
      }
      clearTimeout(this.#holdTimer);
      this.#held = undefined;
      this.#root.fill(0);
      // Its prepared statements hold the connection open until they are collected:
      // let go of them, as the client lets go of its statements after each call.
      this.#rowWriter?.close();
      this.#rowWriter = undefined;
      // A clean stop leaves no WAL behind (it would hold a copy of every page written since the open):
      // best effort, as a reader elsewhere may hold it back; the next open checkpoints again.
      await checkpoint(this.#database.client).catch(() => false);
      this.#database.client.close();
    }).then(() => this.#unlock());
    this.#queue = done;
    return done;
  }

  #writer(): RowWriter {
    return this.#rowWriter ??= new RowWriter(this.#path);
  }

  #run<T>(operation: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the store is closed"));
    const result = this.#queue.then(() => {
      if (this.#failure) throw this.#failure;
      return operation();
    });
    // A failed operation must not block the ones queued after it.
    this.#queue = result.catch(() => {});
    return result;
  }
}
