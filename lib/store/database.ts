/**
 * The libSQL database behind the store: WAL journaling with synchronous=FULL,
 * so a committed write is on disk before it resolves, and secure_delete, so a
 * deleted or overwritten row is zeroed rather than left in a free page.
 */
import { type Client, createClient, type InStatement } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { DataDirError } from "./errors.ts";
import { CREATE_META, CREATE_RECORDS, DIGEST_ROW, SCHEMA_VERSION } from "./schema.ts";

export const DB_FILE = "kms.db";

/** An open database: the raw client (migration, checkpoints), drizzle over it (reads), and the schema version it has. */
export interface Database {
  client: Client;
  db: LibSQLDatabase;
  version: number;
}

const PRAGMAS = "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;";

/**
 * Opens a libSQL client on path with the durability pragmas applied. It
 * reads, migrates and checkpoints; the store's writes go through their own
 * connection (writer.ts), which sets the same pragmas.
 */
async function connect(path: string): Promise<Client> {
  // One connection: every operation then sees the pragmas set on it, and the
  // store already runs one operation at a time.
  const client = createClient({ url: pathToFileURL(path).href, concurrency: 1 });
  try {
    await client.execute("PRAGMA journal_mode=WAL");
    await client.executeMultiple(PRAGMAS);
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

/** The statements that create the current schema, with `digest` as the sealed meta row. */
export function schemaStatements(digest: Uint8Array): InStatement[] {
  return [
    CREATE_META,
    { sql: "INSERT INTO meta (name, value) VALUES (?, ?)", args: [DIGEST_ROW, digest] },
    `PRAGMA user_version = ${SCHEMA_VERSION}`,
  ];
}

/** Creates a new database file (mode 0600) with the current schema and `digest` as its sealed meta row. */
export async function createDatabase(path: string, digest: Uint8Array): Promise<Database> {
  // SQLite gives its -wal and -shm files the database file's mode, so creating
  // the file ourselves makes all three owner-only.
  await writeFile(path, new Uint8Array(0), { mode: 0o600, flag: "wx" });
  const client = await connect(path);
  try {
    await client.batch([CREATE_RECORDS, ...schemaStatements(digest)], "write");
  } catch (err) {
    client.close();
    throw err;
  }
  return { client, db: drizzle(client), version: SCHEMA_VERSION };
}

/** Opens an existing database and checks that it has this store's schema, current (2) or older (1). */
export async function openDatabase(path: string): Promise<Database> {
  let client: Client;
  try {
    client = await connect(path);
  } catch (err) {
    throw new DataDirError(`${path} cannot be opened as a database: the data directory is damaged`, { cause: err });
  }
  let version: number;
  try {
    version = Number((await client.execute("PRAGMA user_version")).rows[0]?.[0]);
    const tables = (await client.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")).rows.map((r) => r[0]);
    const expected = version === 1 ? ["records"] : ["meta", "records"];
    if ((version !== 1 && version !== SCHEMA_VERSION) || tables.join() !== expected.join()) {
      throw new DataDirError(`${path} does not have the expected schema (version ${SCHEMA_VERSION}): the data directory is damaged`);
    }
  } catch (err) {
    client.close();
    if (err instanceof DataDirError) throw err;
    throw new DataDirError(`${path} cannot be read as a database: the data directory is damaged`, { cause: err });
  }
  return { client, db: drizzle(client), version };
}

/**
 * Copies the WAL into the database and truncates it to nothing: old page
 * images (which may hold deleted rows) then exist in no file. Rows deleted
 * from the database itself were already zeroed by secure_delete. False when
 * a reader on another connection kept it from completing.
 */
export async function checkpoint(client: Client): Promise<boolean> {
  const row = (await client.execute("PRAGMA wal_checkpoint(TRUNCATE)")).rows[0];
  // (busy, log frames, checkpointed frames): busy means another connection's reading held it back.
  return Number(row?.[0]) === 0;
}
