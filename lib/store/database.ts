/**
 * The libSQL database behind the store: WAL journaling with synchronous=FULL,
 * so a committed write is on disk before it resolves.
 */
import { type Client, createClient } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { DataDirError } from "./errors.ts";
import { CREATE_RECORDS, SCHEMA_VERSION } from "./schema.ts";

export const DB_FILE = "kms.db";

/** An open database: the raw client (for write batches) and drizzle over it. */
export interface Database {
  client: Client;
  db: LibSQLDatabase;
}

/** Opens a libSQL client on path with the durability pragmas applied. */
async function connect(path: string): Promise<Client> {
  // One connection: every operation then sees the pragmas set on it, and the
  // store already runs one operation at a time.
  const client = createClient({ url: pathToFileURL(path).href, concurrency: 1 });
  try {
    await client.execute("PRAGMA journal_mode=WAL");
    await client.execute("PRAGMA synchronous=FULL");
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

/** Creates a new database file (mode 0600) with the records table. */
export async function createDatabase(path: string): Promise<Database> {
  // SQLite gives its -wal and -shm files the database file's mode, so creating
  // the file ourselves makes all three owner-only.
  await writeFile(path, new Uint8Array(0), { mode: 0o600, flag: "wx" });
  const client = await connect(path);
  try {
    await client.batch([CREATE_RECORDS, `PRAGMA user_version = ${SCHEMA_VERSION}`], "write");
  } catch (err) {
    client.close();
    throw err;
  }
  return { client, db: drizzle(client) };
}

/** Opens an existing database and checks that it has this store's schema. */
export async function openDatabase(path: string): Promise<Database> {
  let client: Client;
  try {
    client = await connect(path);
  } catch (err) {
    throw new DataDirError(`${path} cannot be opened as a database: the data directory is damaged`, { cause: err });
  }
  try {
    const version = (await client.execute("PRAGMA user_version")).rows[0]?.[0];
    const table = await client.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'records'");
    if (Number(version) !== SCHEMA_VERSION || table.rows.length !== 1) {
      throw new DataDirError(`${path} does not have the expected schema (version ${SCHEMA_VERSION}): the data directory is damaged`);
    }
  } catch (err) {
    client.close();
    if (err instanceof DataDirError) throw err;
    throw new DataDirError(`${path} cannot be read as a database: the data directory is damaged`, { cause: err });
  }
  return { client, db: drizzle(client) };
}
