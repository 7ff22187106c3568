/**
 * The store's write path: its own connection to the database file, with every
 * statement prepared once. @libsql/client prepares each statement again on
 * every call (and runs a few more calls per statement to shape a result set),
 * which was about half of a batched write's CPU; the rows are the same either
 * way. Reads, migration and checkpoints keep using the client (database.ts).
 */
import Libsql from "libsql";
import { DELETE_RECORD, DIGEST_ROW, SELECT_RECORD, UPDATE_META, UPSERT_RECORD } from "./schema.ts";

/** One change: put a sealed row (id, value), or delete the row with this id (value null). */
export type RowChange = readonly [id: Uint8Array, value: Uint8Array | null];

/** A connection that writes rows and the digest's meta row in one transaction. */
export class RowWriter {
  readonly #db: Libsql.Database;
  readonly #upsert: Libsql.Statement<unknown[]>;
  readonly #delete: Libsql.Statement<unknown[]>;
  readonly #select: Libsql.Statement<unknown[]>;
  readonly #meta: Libsql.Statement<unknown[]>;
  readonly #begin: Libsql.Statement<unknown[]>;
  readonly #commit: Libsql.Statement<unknown[]>;
  /** The synchronous setting the connection has now, so it is only sent when it changes. */
  #durable: boolean | undefined;

  /** Opens the database file at path (already created, in WAL mode). */
  constructor(path: string) {
    this.#db = new Libsql(path);
    try {
      // Zero deleted and overwritten cells, as the client's connection does (database.ts).
      this.#db.exec("PRAGMA secure_delete=ON");
      this.#upsert = this.#db.prepare(UPSERT_RECORD);
      this.#delete = this.#db.prepare(DELETE_RECORD);
      this.#select = this.#db.prepare(SELECT_RECORD).raw(true);
      this.#meta = this.#db.prepare(UPDATE_META);
      this.#begin = this.#db.prepare("BEGIN IMMEDIATE");
      this.#commit = this.#db.prepare("COMMIT");
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /**
   * Writes changes and the meta row in one transaction, synchronously; fsynced
   * before it returns when durable (synchronous=FULL), else ordered only
   * (NORMAL: in WAL mode the next FULL commit syncs it too). `meta` makes the
   * meta row inside the transaction, reading through `stored` the sealed value
   * each id holds now (its lookups then share the write's transaction instead
   * of opening a read transaction each). Nothing is written when it throws.
   */
  write(changes: readonly RowChange[], meta: (stored: (id: Uint8Array) => Uint8Array | undefined) => Uint8Array, durable: boolean): void {
    if (this.#durable !== durable) {
      this.#db.exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      this.#durable = durable;
    }
    this.#begin.run();
    try {
      const metaRow = meta((id) => (this.#select.get([id]) as [Uint8Array] | undefined)?.[0]);
      for (const [id, value] of changes) {
        // Always one array argument: libsql takes a lone object for named parameters.
        if (value === null) this.#delete.run([id]);
        else this.#upsert.run([id, value]);
      }
      this.#meta.run([metaRow, DIGEST_ROW]);
      this.#commit.run();
    } catch (err) {
      if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
      // A failed COMMIT may leave the setting unknown to us: send it again next time.
      this.#durable = undefined;
      throw err;
    }
  }

  close(): void {
    this.#db.close();
  }
}
