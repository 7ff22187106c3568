/**
 * Reading a data directory's rows at start: every row must decrypt and verify
 * under the directory's key, and the rows as a whole must match the sealed
 * digest, so a single row rolled back, removed or re-inserted is refused.
 */
import { Buffer } from "node:buffer";
import { eq } from "drizzle-orm";
import Libsql from "libsql";
import type { Database } from "./database.ts";
import type { StateDigest } from "./digest.ts";
import { DataDirError } from "./errors.ts";
import type { RecordCipher, SealedRecord } from "./records.ts";
import { DIGEST_ROW, meta, SELECT_RECORDS } from "./schema.ts";

/** The error for a row that does not open; the id is an HMAC output, so it names the row without revealing its key. */
export function corruptRow(path: string, id: Uint8Array): DataDirError {
  const hex = Buffer.from(id).toString("hex").slice(0, 16);
  return new DataDirError(`record ${hex}… in ${path} is corrupt: it does not decrypt and verify under this data directory's key`);
}

/**
 * What a taker did with a record read at open (OpenOptions.take): held it
 * elsewhere, left it to the records map, or found it already held.
 */
export type Taken = "taken" | "kept" | "twice";

/**
 * Decrypts every row with `open` and hands each to `each` as read; the
 * records `take` takes are left out of the map (nothing else is kept).
 * DataDirError on a row that does not open or a record stored twice. Reads
 * only, through a connection of its own with the rows as they are (the
 * client shapes a result object per row, which was most of a start-up's
 * reading).
 */
export function readRows(
  path: string,
  open: (row: SealedRecord) => [string, Uint8Array] | null,
  each: (row: SealedRecord) => void = () => {},
  take: (key: string, value: Uint8Array) => Taken = () => "kept",
): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  const db = new Libsql(path, { readonly: true });
  try {
    for (const [id, value] of db.prepare(SELECT_RECORDS).raw(true).iterate() as Iterable<[Uint8Array, Uint8Array]>) {
      const row = { id, value };
      const opened = open(row);
      if (opened === null) throw corruptRow(path, id);
      // A second row with one id (the primary key was dropped) would cancel out of the XOR digest.
      const taken = map.has(opened[0]) ? "twice" : take(opened[0], opened[1]);
      if (taken === "twice") throw new DataDirError(`${path} holds a record twice: the data directory was tampered with`);
      if (taken === "kept") map.set(opened[0], opened[1]);
      each(row);
    }
  } finally {
    db.close();
  }
  return map;
}

/** Every record of a current-format database (but those `take` takes), verified row by row and as a whole; reads only. */
export async function loadVerified(
  database: Database, path: string, cipher: RecordCipher, digest: StateDigest, take?: (key: string, value: Uint8Array) => Taken,
): Promise<Map<string, Uint8Array>> {
  const map = readRows(path, (row) => cipher.open(row), (row) => digest.add(digest.share(row.id, row.value)), take);
  const sealed = await database.db.select().from(meta).where(eq(meta.name, DIGEST_ROW));
  if (sealed.length !== 1 || !digest.verify(sealed[0].value)) {
    throw new DataDirError(
      `${path} does not match its sealed digest: records were rolled back, removed or added since kms wrote them ` +
        "(for example from a copy of an older database); refusing to start, nothing was changed",
    );
  }
  return map;
}
