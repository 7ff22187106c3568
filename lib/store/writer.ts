/**
 * The store's write path: its own connection to the database file, with every
 * statement prepared once. @libsql/client prepares each statement again on
 * every call (and runs a few more calls per statement to shape a result set),
 * which was about half of a batched write's CPU; the rows are the same either
 * way. Reads, migration and checkpoints keep using the client (database.ts).
 *
 * Durability without blocking the event loop: the connection commits with
 * synchronous=NORMAL, and a durable write then fsyncs the WAL file on libuv's
 * thread pool (sync()). In WAL mode that is exactly what synchronous=FULL
 * adds to NORMAL (one sync of the WAL after the commit frame is written; the
 * WAL header and checkpoints are synced by SQLite in both modes), but FULL
 * runs it inside COMMIT on the JavaScript thread, where the node then does
 * nothing until the disk answers (docs/performance.md, "Third changes").
 */
import { closeSync, fdatasync, openSync } from "node:fs";
import { promisify } from "node:util";
import Libsql from "libsql";
import { DELETE_RECORD, DIGEST_ROW, UPDATE_META, UPSERT_RECORD } from "./schema.ts";

const datasync = promisify(fdatasync);

/** One change: put a sealed row (id, value), or delete the row with this id (value null). */
export type RowChange = readonly [id: Uint8Array, value: Uint8Array | null];

/** A connection that writes rows and the digest's meta row in one transaction. */
export class RowWriter {
  readonly #db: Libsql.Database;
  readonly #wal: string;
  readonly #upsert: Libsql.Statement<unknown[]>;
  readonly #delete: Libsql.Statement<unknown[]>;
  readonly #meta: Libsql.Statement<unknown[]>;
  readonly #begin: Libsql.Statement<unknown[]>;
  readonly #commit: Libsql.Statement<unknown[]>;
  /** WAL syncs started (a count for tests: one per durable write). */
  syncs = 0;

  /** Opens the database file at path (already created, in WAL mode). */
  constructor(path: string) {
    this.#db = new Libsql(path);
    this.#wal = `${path}-wal`;
    try {
      // Zero deleted and overwritten cells, as the client's connection does (database.ts).
      this.#db.exec("PRAGMA secure_delete=ON");
      // Never FULL: a durable write's sync is sync(), off the JavaScript thread.
      this.#db.exec("PRAGMA synchronous=NORMAL");
      this.#upsert = this.#db.prepare(UPSERT_RECORD);
      this.#delete = this.#db.prepare(DELETE_RECORD);
      this.#meta = this.#db.prepare(UPDATE_META);
      this.#begin = this.#db.prepare("BEGIN IMMEDIATE");
      this.#commit = this.#db.prepare("COMMIT");
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /**
   * Writes changes and the meta row in one transaction, synchronously. It is
   * atomic and ordered when this returns (in the WAL, visible to readers), and
   * durable once a later sync() resolves. Nothing is written when it throws.
   */
  write(changes: readonly RowChange[], meta: Uint8Array): void {
    this.#begin.run();
    try {
      for (const [id, value] of changes) {
        // Always one array argument: libsql takes a lone object for named parameters.
        if (value === null) this.#delete.run([id]);
        else this.#upsert.run([id, value]);
      }
      this.#meta.run([meta, DIGEST_ROW]);
      this.#commit.run();
    } catch (err) {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  /**
   * Makes every transaction committed so far durable: fdatasync of the WAL
   * file, on the thread pool. The file is opened by name right after the
   * commit (a path lookup, no disk access), so the sync reaches the WAL SQLite
   * wrote to whatever happened to an older one.
   */
  async sync(): Promise<void> {
    this.syncs++;
    const fd = openSync(this.#wal, "r");
    try {
      await datasync(fd);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    this.#db.close();
  }
}
