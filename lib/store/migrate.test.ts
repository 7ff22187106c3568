/**
 * A data directory written by an older kms (schema 1, tests/fixtures) still
 * opens: it is migrated in place to per-record keys and a sealed digest, and
 * none of its old rows is left in any file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import { SoftHsm } from "../hsm/soft.ts";
import { DataDirError, openStore } from "./store.ts";
import { findSecrets, snapshot, withTempDir } from "../../tests/support/store.ts";

const FIXTURE = join(import.meta.dirname, "../../tests/fixtures/data-dir-v1");
const fixture = JSON.parse(await readFile(`${FIXTURE}.json`, "utf8"));

/** A copy of the fixture directory (git keeps no modes: set the ones kms makes). */
async function copyFixture(to: string): Promise<void> {
  await mkdir(to, { mode: 0o700 });
  for (const name of await readdir(FIXTURE)) {
    await copyFile(join(FIXTURE, name), join(to, name));
    await chmod(join(to, name), name === "server.crt" ? 0o644 : 0o600);
  }
}

async function sql(dir: string, query: string, args: Uint8Array[] = []) {
  const raw = createClient({ url: pathToFileURL(join(dir, "kms.db")).href, concurrency: 1 });
  try {
    return (await raw.execute({ sql: query, args })).rows;
  } finally {
    raw.close();
  }
}

test("a schema-1 directory opens, is migrated in place, and keeps none of its old rows", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "data");
    await copyFixture(dir);
    const hsm = SoftHsm.parse(fixture.hsmKey);
    assert.equal(Number((await sql(dir, "PRAGMA user_version"))[0][0]), 1);
    const oldRows = (await sql(dir, "SELECT value FROM records")).map((r) => new Uint8Array(r[0] as ArrayBuffer));
    assert.ok(oldRows.length > 5, `the fixture holds rows (${oldRows.length})`);

    const store = await openStore(dir, hsm);
    const records = await store.load();
    assert.ok(records.has("e/legacy"));
    for (const key of fixture.keys) assert.ok(records.has(`k/legacy/${key}`), key);
    const imported = JSON.parse(new TextDecoder().decode(records.get("k/legacy/imported-key")));
    assert.equal(imported.versions[0].material, fixture.importedMaterial);
    assert.ok(records.has("r/hard") && records.has("n/node"), "the replication state came along");
    await store.write([["m/after-migration", new Uint8Array([1])]]);
    await store.close();

    assert.equal(Number((await sql(dir, "PRAGMA user_version"))[0][0]), 2);
    assert.equal((await sql(dir, "SELECT count(*) FROM meta"))[0][0], 1);
    // The old format's rows (and so its nonces under the one key) are gone from every file.
    assert.deepEqual(await findSecrets(dir, oldRows), []);

    const again = await openStore(dir, hsm);
    const reloaded = await again.load();
    assert.equal(reloaded.size, records.size + 1);
    for (const [k, v] of records) assert.deepEqual(reloaded.get(k), v, k);
    await again.close();
  });
});

test("a schema-1 directory with a damaged row is refused and left as it was", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "data");
    await copyFixture(dir);
    const [row] = await sql(dir, "SELECT id, value FROM records LIMIT 1");
    const value = new Uint8Array(row[1] as ArrayBuffer);
    value[20] ^= 1;
    await sql(dir, "UPDATE records SET value = ? WHERE id = ?", [value, new Uint8Array(row[0] as ArrayBuffer)]);
    await sql(dir, "PRAGMA wal_checkpoint(TRUNCATE)");
    const before = await snapshot(dir);
    await assert.rejects(openStore(dir, SoftHsm.parse(fixture.hsmKey)), (err: unknown) => err instanceof DataDirError && /is corrupt/.test(err.message));
    assert.deepEqual(await snapshot(dir), before);
  });
});
