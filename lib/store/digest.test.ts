/**
 * The sealed digest: single rows of a copy of a data directory rolled back,
 * deleted or re-inserted are refused at open, changing no row;
 * only a whole, consistent older copy opens (see docs/security.md for what
 * catches that).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import { SoftHsm } from "../hsm/soft.ts";
import { DataDirError, openStore } from "./store.ts";
import { withTempDir } from "../../tests/support/store.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

type Row = { id: Uint8Array; value: Uint8Array };

/** Every row of a closed data directory's tables, read raw (no key needed: this is the attacker's view). */
async function rawRows(dir: string, table: "records" | "meta"): Promise<Row[]> {
  const raw = createClient({ url: pathToFileURL(join(dir, "kms.db")).href, concurrency: 1 });
  try {
    const key = table === "records" ? "id" : "name";
    const rows = (await raw.execute(`SELECT ${key}, value FROM ${table} ORDER BY ${key}`)).rows;
    return rows.map((r) => ({ id: typeof r[0] === "string" ? bytes(r[0]) : new Uint8Array(r[0] as ArrayBuffer), value: new Uint8Array(r[1] as ArrayBuffer) }));
  } finally {
    raw.close();
  }
}

/** Runs SQL statements on a closed data directory's database, as someone with the files but no key would. */
async function tamper(dir: string, statements: Array<{ sql: string; args?: Uint8Array[] }>): Promise<void> {
  const raw = createClient({ url: pathToFileURL(join(dir, "kms.db")).href, concurrency: 1 });
  try {
    for (const s of statements) await raw.execute({ sql: s.sql, args: s.args ?? [] });
    await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    raw.close();
  }
}

async function copyDir(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 });
  // A closed store checkpoints its WAL and removes it, on some runtimes after close() returns:
  // wait (bounded) until that is done, so the copy is of one consistent moment.
  const deadline = Date.now() + 5_000;
  while ((await readdir(from)).some((n) => n.endsWith("-wal")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  // The WAL index (-shm) holds no data.
  for (const name of await readdir(from)) if (!name.endsWith("-shm")) await copyFile(join(from, name), join(to, name));
}

/** The sealed root key and every row, whatever pages SQLite keeps them in (it may checkpoint a WAL on close). */
async function contents(dir: string) {
  return { root: await readFile(join(dir, "root.seal")), records: await rawRows(dir, "records"), meta: await rawRows(dir, "meta") };
}

/** Expects open to refuse `dir` because of the digest, changing no row. */
async function expectRefused(dir: string, hsm: SoftHsm, what: string, message = /does not match its sealed digest: records were rolled back, removed or added/) {
  const before = await contents(dir);
  await assert.rejects(openStore(dir, hsm), (err: unknown) => {
    assert.ok(err instanceof DataDirError, `${what}: ${err}`);
    assert.match(err.message, message, what);
    return true;
  }, what);
  assert.deepEqual(await contents(dir), before, `${what}: nothing changed`);
}

test("a single row rolled back, deleted or re-inserted from an older copy is refused at open, changing no row", async () => {
  await withTempDir(async (tmp) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const dir = join(tmp, "data"), old = join(tmp, "old");
    const store = await openStore(dir, hsm);
    await store.write([["i/tenant/alice", bytes("admin")], ["k/tenant/key", bytes("v1 v2")], ["e/tenant", bytes("enclave")]]);
    await store.close();
    await copyDir(dir, old); // the attacker's copy, taken while the server was stopped
    const oldRows = await rawRows(old, "records");
    const oldMeta = await rawRows(old, "meta");

    const again = await openStore(dir, hsm);
    await again.write([["i/tenant/alice", null], ["k/tenant/key", bytes("v2")], ["p/tenant/new", bytes("policy")]]);
    await again.close();
    const rows = await rawRows(dir, "records");
    const ids = (r: Row[]) => r.map((x) => Buffer.from(x.id).toString("hex"));
    const removed = oldRows.find((r) => !ids(rows).includes(Buffer.from(r.id).toString("hex")))!; // alice
    const added = rows.find((r) => !ids(oldRows).includes(Buffer.from(r.id).toString("hex")))!; // the policy
    const changedOld = oldRows.find((r) => rows.some((x) => Buffer.from(x.id).equals(r.id) && !Buffer.from(x.value).equals(r.value)))!;
    assert.ok(removed && added && changedOld, "the writes removed, added and changed one row each");

    // Each change alone, undone after the check.
    const insert = (r: Row) => ({ sql: "INSERT INTO records (id, value) VALUES (?, ?)", args: [r.id, r.value] });
    const remove = (r: Row) => ({ sql: "DELETE FROM records WHERE id = ?", args: [r.id] });
    const set = (r: Row) => ({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [r.value, r.id] });
    const current = rows.find((r) => Buffer.from(r.id).equals(changedOld.id))!;

    await tamper(dir, [insert(removed)]);
    await expectRefused(dir, hsm, "a deleted identity re-inserted");
    await tamper(dir, [remove(removed)]);

    await tamper(dir, [set(changedOld)]);
    await expectRefused(dir, hsm, "a key rolled back to an older value");
    await tamper(dir, [set(current)]);

    await tamper(dir, [remove(added)]);
    await expectRefused(dir, hsm, "a new row deleted");
    await tamper(dir, [insert(added)]);

    // The older digest beside the newer rows, and the newer digest beside the older rows.
    const meta = await rawRows(dir, "meta");
    await tamper(dir, [{ sql: "UPDATE meta SET value = ?", args: [oldMeta[0].value] }]);
    await expectRefused(dir, hsm, "an older digest");
    await tamper(dir, [{ sql: "UPDATE meta SET value = ?", args: [meta[0].value] }]);

    await tamper(dir, [{ sql: "DELETE FROM meta" }]);
    await expectRefused(dir, hsm, "the digest removed");
    await tamper(dir, [{ sql: "INSERT INTO meta (name, value) VALUES ('digest', ?)", args: [meta[0].value] }]);

    // Put back exactly as it was, the directory opens: the check refuses changes, not everything.
    const ok = await openStore(dir, hsm);
    assert.deepEqual(await ok.load(), new Map([["k/tenant/key", bytes("v2")], ["e/tenant", bytes("enclave")], ["p/tenant/new", bytes("policy")]]));
    await ok.close();

    // A whole older copy is consistent: only something outside the directory can tell (docs/security.md).
    const whole = await openStore(old, hsm);
    assert.deepEqual((await whole.load()).get("i/tenant/alice"), bytes("admin"));
    assert.equal(whole.generation, 1, "its generation is lower than the newer directory's 2");
    await whole.close();
  });
});

test("a record stored twice (the primary key dropped) is refused: duplicates would cancel out of the digest", async () => {
  await withTempDir(async (dir) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = await openStore(dir, hsm);
    await store.write([["a", bytes("1")], ["b", bytes("2")]]);
    await store.close();
    const [a] = await rawRows(dir, "records");
    await tamper(dir, [
      { sql: "ALTER TABLE records RENAME TO old" },
      { sql: "CREATE TABLE records (id BLOB NOT NULL, value BLOB NOT NULL)" },
      { sql: "INSERT INTO records SELECT * FROM old" },
      { sql: "DROP TABLE old" },
      { sql: "INSERT INTO records (id, value) VALUES (?, ?)", args: [a.id, a.value] },
    ]);
    await expectRefused(dir, hsm, "a duplicated row", /holds a record twice/);
    // Also when the duplicated record is one a holder takes as it is read (a server's key rings).
    const held = new Set<string>();
    const take = (key: string) => held.has(key) ? "twice" as const : (held.add(key), "taken" as const);
    await assert.rejects(openStore(dir, hsm, { take }), (err: Error) => err instanceof DataDirError && /holds a record twice/.test(err.message));
  });
});

test("records taken at open go to their holder once each, authenticated, and are left out of the first load only", async () => {
  await withTempDir(async (dir) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = await openStore(dir, hsm);
    await store.write([["k/e/a", bytes("1")], ["k/e/b", bytes("2")], ["e/e", bytes("3")]]);
    await store.close();
    const taken = new Map<string, string>();
    const take = (key: string, value: Uint8Array) => key.startsWith("k/") ? (taken.set(key, new TextDecoder().decode(value)), "taken" as const) : "kept" as const;
    const again = await openStore(dir, hsm, { take });
    assert.deepEqual(taken, new Map([["k/e/a", "1"], ["k/e/b", "2"]]));
    assert.deepEqual(await again.load(), new Map([["e/e", bytes("3")]]), "the first load holds the rest");
    assert.equal((await again.load()).size, 3, "a later load reads every record again");
    await again.close();
  });
});

test("the digest and generation advance with every write and survive reopening", async () => {
  await withTempDir(async (dir) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = await openStore(dir, hsm);
    assert.equal(store.generation, 0);
    for (let i = 0; i < 20; i++) await store.write([[`k${i % 7}`, i % 3 ? bytes(`v${i}`) : null], ["counter", bytes(String(i))]]);
    await store.write([]); // nothing written, nothing counted
    assert.equal(store.generation, 20);
    await store.close();
    const again = await openStore(dir, hsm);
    assert.equal(again.generation, 20);
    assert.deepEqual((await again.load()).get("counter"), bytes("19"));
    await again.load(); // a second load reads and verifies everything again
    await again.close();
  });
});

test("a row rolled back on disk while kms runs is caught at the next open, even after kms overwrote it (shares come from the rows as stored)", async () => {
  await withTempDir(async (dir) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = await openStore(dir, hsm);
    await store.write([["k/tenant/key", bytes("v1")], ["e/tenant", bytes("enclave")]]);
    const before = await rawRows(dir, "records");
    await store.write([["k/tenant/key", bytes("v2")]]);
    const after = await rawRows(dir, "records");
    const old = before.find((r) => !after.some((x) => Buffer.from(x.value).equals(r.value)))!;
    assert.ok(old, "the key's first row");
    // While the store is open, someone with the files puts the older row back; kms then overwrites it.
    const raw = createClient({ url: pathToFileURL(join(dir, "kms.db")).href, concurrency: 1 });
    await raw.execute({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [old.value, old.id] });
    raw.close();
    await store.write([["k/tenant/key", bytes("v3")]]);
    await store.close();
    await expectRefused(dir, hsm, "a row rolled back while running, then overwritten");
  });
});
