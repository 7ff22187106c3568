/**
 * The database schema: one table of opaque, encrypted records. Both columns
 * are ciphertext-derived, so the schema itself reveals nothing but a count.
 */
import { blob, sqliteTable } from "drizzle-orm/sqlite-core";

/** Bumped when the layout changes; stored in SQLite's user_version. */
export const SCHEMA_VERSION = 1;

/** id = HMAC-SHA256(idKey, record key); value = nonce ‖ AES-256-GCM(sealKey, key and value). */
export const records = sqliteTable("records", {
  id: blob("id", { mode: "buffer" }).primaryKey(),
  value: blob("value", { mode: "buffer" }).notNull(),
});

/** DDL matching `records`; WITHOUT ROWID since the 32-byte id is the only key. */
export const CREATE_RECORDS = `CREATE TABLE records (
  id BLOB PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID`;
