/**
 * The database schema: one table of opaque, encrypted records, and one row of
 * sealed metadata (the digest binding the records as a whole, digest.ts).
 * Every column is ciphertext-derived, so the schema reveals nothing but a count.
 */
import { blob, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Bumped when the layout changes; stored in SQLite's user_version.
 * 1: records sealed under one GCM key with random nonces, no digest (migrated on open).
 * 2: records sealed under per-record keys, and the sealed digest in `meta`.
 */
export const SCHEMA_VERSION = 2;

/** id = HMAC-SHA256(idKey, record key); value = the sealed key and value (records.ts). */
export const records = sqliteTable("records", {
  id: blob("id", { mode: "buffer" }).primaryKey(),
  value: blob("value", { mode: "buffer" }).notNull(),
});

/** Sealed metadata rows by name; `digest` is the only one. */
export const meta = sqliteTable("meta", {
  name: text("name").primaryKey(),
  value: blob("value", { mode: "buffer" }).notNull(),
});

/** The name of the digest row in `meta`. */
export const DIGEST_ROW = "digest";

/** DDL matching `records`; WITHOUT ROWID since the 32-byte id is the only key. */
export const CREATE_RECORDS = `CREATE TABLE records (
  id BLOB PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID`;

/** DDL matching `meta`. */
export const CREATE_META = `CREATE TABLE meta (
  name TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID`;

/** Writes as plain SQL: the same text on every call, nothing to build per row (drizzle's builder was ~8% of a write's CPU). */
export const UPSERT_RECORD = "INSERT INTO records (id, value) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value";
export const DELETE_RECORD = "DELETE FROM records WHERE id = ?";
/** Every row, for the reads at open (verify.ts). */
export const SELECT_RECORDS = "SELECT id, value FROM records";
export const SELECT_RECORD = "SELECT value FROM records WHERE id = ?";
export const UPDATE_META = "UPDATE meta SET value = ? WHERE name = ?";
