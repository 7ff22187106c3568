/**
 * Upgrades a schema-1 database (records sealed under one GCM key with random
 * nonces, no digest) to the current schema in one transaction: every row
 * resealed under its own key, and the sealed digest created. Until then the
 * directory had no digest, so its rows are taken as they are.
 */
import { type Database, schemaStatements } from "./database.ts";
import type { StateDigest } from "./digest.ts";
import type { RecordCipher } from "./records.ts";
import { readRows } from "./verify.ts";

/** Migrates `database` (version 1) in place and returns its records; a row that does not open changes nothing. */
export async function migrateV1(database: Database, path: string, cipher: RecordCipher, digest: StateDigest): Promise<Map<string, Uint8Array>> {
  const map = readRows(path, (row) => cipher.openLegacy(row));
  const statements = [];
  for (const [key, value] of map) {
    const row = cipher.seal(key, value);
    digest.add(digest.share(row.id, row.value));
    statements.push({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [row.value, row.id] });
  }
  // Schema 1 ran without secure_delete: free pages may still hold rows deleted
  // long ago. VACUUM rebuilds the file without them (and may run again if the
  // migration is interrupted); then secure_delete zeroes each resealed row's old
  // cell, and the checkpoint after open leaves no old page image in the WAL.
  await database.client.execute("VACUUM");
  await database.client.batch([...statements, ...schemaStatements(digest.sealCurrent())], "write");
  database.version = 2;
  return map;
}
