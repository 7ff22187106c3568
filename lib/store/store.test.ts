import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import { deriveKey } from "../crypto/hkdf.ts";
import { HsmKeyError, HsmMismatchError, SoftHsm } from "../hsm/soft.ts";
import { DataDirError, openStore } from "./store.ts";
import { findSecrets, snapshot, withTempDir } from "../../tests/support/store.ts";
import { readRootSeal } from "./root-key.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const newHsm = () => SoftHsm.parse(SoftHsm.generate());

/** Opens a raw libSQL connection to a data directory's database, bypassing the store. */
function rawDb(dir: string) {
  return createClient({ url: pathToFileURL(join(dir, "kms.db")).href, concurrency: 1 });
}

test("create, write (put, overwrite, delete), close, reopen: load returns exactly the final map", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "data");
    const text = SoftHsm.generate();
    const store = await openStore(dir, SoftHsm.parse(text));
    assert.equal(store.created, true);
    assert.deepEqual(await store.load(), new Map());
    await store.write([
      ["enclave/a", bytes("one")],
      ["enclave/b", bytes("two")],
      ["enclave/c", bytes("three")],
      ["empty", new Uint8Array(0)],
      ["ключ/🔑", new Uint8Array(4096).fill(7)],
    ]);
    await store.write([
      ["enclave/a", bytes("one, again")], // overwrite
      ["enclave/b", null], // delete
      ["never-existed", null], // delete of a missing key is a no-op
      ["enclave/d", bytes("temp")],
      ["enclave/d", null], // later changes in one batch win
      ["enclave/e", null],
      ["enclave/e", bytes("five")],
    ]);
    await store.write([]);
    const expected = new Map<string, Uint8Array>([
      ["enclave/a", bytes("one, again")],
      ["enclave/c", bytes("three")],
      ["empty", new Uint8Array(0)],
      ["ключ/🔑", new Uint8Array(4096).fill(7)],
      ["enclave/e", bytes("five")],
    ]);
    assert.deepEqual(await store.load(), expected);
    await store.close();
    await store.close(); // idempotent

    // Reopen as a restarted server would: the same key text, parsed anew.
    const again = await openStore(dir, SoftHsm.parse(text));
    assert.equal(again.created, false);
    const loaded = await again.load();
    assert.deepEqual(loaded, expected);
    for (const value of loaded.values()) assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
    await again.close();
    await assert.rejects(again.load(), /closed/);
    await assert.rejects(again.write([["x", bytes("y")]]), /closed/);
  });
});

test("writes issued without awaiting apply in call order", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) pending.push(store.write([["counter", bytes(String(i))], [`k${i}`, i % 2 ? null : bytes("v")]]));
    pending.push(store.write([["k0", null]]));
    const closing = store.close(); // waits for queued writes
    await Promise.all(pending);
    await closing;
    const reopened = await openStore(dir, hsm);
    const map = await reopened.load();
    assert.deepEqual(map.get("counter"), bytes("49"));
    assert.equal(map.has("k0"), false);
    assert.equal(map.has("k1"), false);
    assert.deepEqual(map.get("k2"), bytes("v"));
    assert.equal(map.size, 1 + 24);
    await reopened.close();
  });
});

/** The rows of the records table, read past the store (what is on disk now). */
async function rowCount(dir: string): Promise<number> {
  const raw = rawDb(dir);
  try {
    return Number((await raw.execute("SELECT count(*) AS n FROM records")).rows[0].n);
  } finally {
    raw.close();
  }
}

/** Polls `cond` until it holds, failing after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("an unsynced write rides in the next write's transaction, or is written on its own soon after", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    await store.write([["a", bytes("1")]]);
    const before = store.generation;
    const rows = await rowCount(dir);
    // The applied records of a Ready, then the next Ready's log append: one transaction, not two.
    await store.write([["b", bytes("2")], ["a", null]], false);
    await store.write([["c", bytes("3")], ["b", bytes("2, again")]]);
    assert.equal(store.generation, before + 1, "both writes in one transaction");
    assert.equal(await rowCount(dir), rows + 1, "a deleted, b and c added, all on disk");
    // Alone, it is still written, without a later write or a close.
    await store.write([["d", bytes("4")]], false);
    await until(async () => store.generation === before + 2 && await rowCount(dir) === rows + 2, "the held write to reach the disk");
    // load() and erase() see every write made before them, held or not.
    await store.write([["e", bytes("5")], ["c", null]], false);
    assert.deepEqual(await store.load(), new Map([["b", bytes("2, again")], ["d", bytes("4")], ["e", bytes("5")]]));
    await store.write([["e", null]], false);
    await store.erase();
    assert.equal(await rowCount(dir), 2, "the held deletion is on disk before the checkpoint");
    await store.write([["f", bytes("6")]], false);
    await store.close();
    const again = await openStore(dir, hsm);
    assert.deepEqual(await again.load(), new Map([["b", bytes("2, again")], ["d", bytes("4")], ["f", bytes("6")]]), "close writes what is held");
    await again.close();
  });
});

test("a failing write applies nothing and the store stays usable", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    await store.write([["a", bytes("1")], ["b", bytes("2")]]);
    // Make the third row of any transaction fail, from outside the store.
    const raw = rawDb(dir);
    await raw.execute(
      "CREATE TRIGGER limit_rows BEFORE INSERT ON records WHEN (SELECT count(*) FROM records) >= 3 BEGIN SELECT RAISE(ABORT, 'full'); END",
    );
    await assert.rejects(store.write([["a", null], ["c", bytes("3")], ["d", bytes("4")], ["e", bytes("5")]]));
    assert.deepEqual(await store.load(), new Map([["a", bytes("1")], ["b", bytes("2")]]));
    await raw.execute("DROP TRIGGER limit_rows");
    raw.close();
    await store.write([["c", bytes("3")]]);
    assert.deepEqual(await store.load(), new Map([["a", bytes("1")], ["b", bytes("2")], ["c", bytes("3")]]));
    // Bad arguments are rejected before anything is written.
    await assert.rejects(store.write([["d", bytes("4")], ["bad\uD800", bytes("x")]]), TypeError);
    await assert.rejects(store.write([["d", bytes("4")], ["e", "text" as unknown as Uint8Array]]), TypeError);
    assert.equal((await store.load()).has("d"), false);
    await store.close();
  });
});

test("a wrong HSM key throws HsmMismatchError and changes nothing in the data directory", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    await store.write([["enclave/x", bytes("secret value")]]);

    // While the store is open (WAL and SHM present) and after it is closed.
    for (const phase of ["open", "closed"]) {
      if (phase === "closed") await store.close();
      const before = await snapshot(dir);
      assert.ok(before.has("root.seal") && before.has("kms.db"));
      await assert.rejects(openStore(dir, newHsm()), (err: unknown) => {
        assert.ok(err instanceof HsmMismatchError);
        assert.equal(err.message, `the HSM key does not match this data directory (${dir})`);
        return true;
      });
      assert.deepEqual(await snapshot(dir), before, `unchanged (${phase})`);

      // A malformed key never gets as far as the store.
      await assert.rejects(async () => openStore(dir, SoftHsm.parse("hsm:aes256:not-a-key")), HsmKeyError);
      assert.deepEqual(await snapshot(dir), before, `unchanged after bad key text (${phase})`);
    }

    const reopened = await openStore(dir, hsm);
    assert.deepEqual(await reopened.load(), new Map([["enclave/x", bytes("secret value")]]));
    await reopened.close();
  });
});

test("no record key, value or key material appears on disk in any encoding", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    const knownValue = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
    const secrets: Array<Uint8Array | string> = [
      "enclave/tenant-zebra-7731",
      "tenant-zebra-7731",
      "key/quokka-secret-4410",
      knownValue,
      "value-marmot-9925",
    ];
    await store.write([
      ["enclave/tenant-zebra-7731", knownValue],
      ["enclave/tenant-zebra-7731/key/quokka-secret-4410", bytes("value-marmot-9925")],
    ]);
    for (let i = 0; i < 20; i++) await store.write([[`enclave/tenant-zebra-7731/n${i}`, knownValue]]);

    // The key material: the root key (recovered here only through the HSM) and its sub-keys.
    const { root } = readRootSeal(dir, hsm);
    assert.equal(root.length, 32);
    for (const label of ["record-id", "record-seal"]) secrets.push(deriveKey(root, `kms/v1/${label}`));
    for (const label of ["record-seal", "row-digest", "state-digest-seal"]) secrets.push(deriveKey(root, `kms/v2/${label}`));
    secrets.push(root);

    // The scanner itself must find what is there.
    const names = await readdir(dir);
    assert.ok(names.includes("kms.db-wal"), "WAL present while open");
    assert.ok((await stat(join(dir, "kms.db-wal"))).size > 0, "WAL holds the writes");
    assert.deepEqual(await findSecrets(dir, secrets), [], "while open");
    await store.close();
    assert.deepEqual(await findSecrets(dir, secrets), [], "after close");

    const reopened = await openStore(dir, hsm);
    const map = await reopened.load();
    assert.deepEqual(map.get("enclave/tenant-zebra-7731"), knownValue);
    await reopened.close();
    assert.deepEqual(await findSecrets(dir, secrets), [], "after reopen");
  });
});

test("the secret scanner detects raw, hex, and base64 forms (so the scan above can fail)", async () => {
  await withTempDir(async (dir) => {
    const value = new Uint8Array(32).map((_, i) => i + 100);
    const forms = [
      Buffer.from("xx enclave/tenant-zebra-7731 yy"),
      Buffer.from(Buffer.from("enclave/tenant-zebra-7731").toString("hex")),
      Buffer.from(Buffer.from("enclave/tenant-zebra-7731").toString("hex").toUpperCase()),
      Buffer.from(Buffer.from("enclave/tenant-zebra-7731").toString("base64")),
      Buffer.concat([Buffer.from([0, 1]), Buffer.from(value), Buffer.from([2])]),
      Buffer.from(Buffer.from(value).toString("hex").toUpperCase()),
      Buffer.from(Buffer.from(value).toString("base64")),
    ];
    for (const [i, form] of forms.entries()) {
      await mkdir(join(dir, String(i)));
      await writeFile(join(dir, String(i), "f"), form);
      assert.notDeepEqual(await findSecrets(join(dir, String(i)), ["enclave/tenant-zebra-7731", value]), [], `form ${i}`);
    }
  });
});

test("swapped or damaged rows make open throw DataDirError", async () => {
  await withTempDir(async (dir) => {
    const hsm = newHsm();
    const store = await openStore(dir, hsm);
    await store.write([["enclave/alpha", bytes("value-alpha")], ["enclave/beta", bytes("value-beta")]]);
    await store.close();

    const raw = rawDb(dir);
    const rows = (await raw.execute("SELECT id, value FROM records ORDER BY id")).rows;
    assert.equal(rows.length, 2);
    const [a, b] = rows.map((r) => ({ id: new Uint8Array(r[0] as ArrayBuffer), value: new Uint8Array(r[1] as ArrayBuffer) }));
    const setValue = (id: Uint8Array, value: Uint8Array) =>
      raw.execute({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [value, id] });
    const expectCorrupt = async (what: string) => {
      await assert.rejects(openStore(dir, hsm), (err: unknown) => {
        assert.ok(err instanceof DataDirError, what);
        assert.match(err.message, /^record [0-9a-f]{16}… in .*kms\.db is corrupt/);
        assert.ok(!/alpha|beta/.test(err.message));
        return true;
      }, what);
    };

    // Swap the two values: each is authentic, but bound to the other id.
    await setValue(a.id, b.value);
    await setValue(b.id, a.value);
    await expectCorrupt("swapped values");

    // Restored, the data loads again: the check is not simply failing on everything.
    await setValue(a.id, a.value);
    await setValue(b.id, b.value);
    const ok = await openStore(dir, hsm);
    assert.deepEqual(await ok.load(), new Map([["enclave/alpha", bytes("value-alpha")], ["enclave/beta", bytes("value-beta")]]));
    await ok.close();

    for (const index of [0, 12, 20, a.value.length - 1]) {
      const flipped = a.value.slice();
      flipped[index] ^= 0x01;
      await setValue(a.id, flipped);
      await expectCorrupt(`flipped byte ${index}`);
    }
    await setValue(a.id, a.value.subarray(0, 20));
    await expectCorrupt("truncated value");
    await setValue(a.id, a.value);

    // A row moved to a different id.
    await raw.execute({ sql: "DELETE FROM records WHERE id = ?", args: [a.id] });
    const movedId = a.id.slice();
    movedId[0] ^= 0x80;
    await raw.execute({ sql: "INSERT INTO records (id, value) VALUES (?, ?)", args: [movedId, a.value] });
    await expectCorrupt("moved row");
    raw.close();
  });
});

test("modes: data dir 0700, root.seal and kms.db 0600; journal mode is WAL", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "nested", "data");
    const store = await openStore(dir, newHsm());
    await store.write([["k", bytes("v")]]);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, "root.seal"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "kms.db"))).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(join(dir, "root.seal"), "utf8")).version, 2);
    const raw = rawDb(dir);
    assert.equal((await raw.execute("PRAGMA journal_mode")).rows[0]?.[0], "wal");
    raw.close();
    await store.close();
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes("tmp")), []);

    // An existing empty directory is adopted and tightened to 0700.
    const empty = join(tmp, "empty");
    await mkdir(empty, { mode: 0o755 });
    await chmod(empty, 0o755);
    const s2 = await openStore(empty, newHsm());
    assert.equal(s2.created, true);
    assert.equal((await stat(empty)).mode & 0o777, 0o700);
    await s2.close();
  });
});

test("directories that are not kms data directories are refused untouched", async () => {
  await withTempDir(async (tmp) => {
    const hsm = newHsm();
    const foreign = join(tmp, "foreign");
    await mkdir(foreign);
    await writeFile(join(foreign, "notes.txt"), "hello");
    const before = await snapshot(foreign);
    await assert.rejects(openStore(foreign, hsm), (err: unknown) => {
      assert.ok(err instanceof DataDirError);
      assert.match(err.message, /is not a kms data directory/);
      return true;
    });
    assert.deepEqual(await snapshot(foreign), before);

    const file = join(tmp, "a-file");
    await writeFile(file, "x");
    await assert.rejects(openStore(file, hsm), DataDirError);

    // root.seal without kms.db: damaged.
    const damaged = join(tmp, "damaged");
    await (await openStore(damaged, hsm)).close();
    for (const name of await readdir(damaged)) if (name.startsWith("kms.db")) await rm(join(damaged, name));
    const damagedBefore = await snapshot(damaged);
    await assert.rejects(openStore(damaged, hsm), { name: "DataDirError", message: /damaged/ });
    assert.deepEqual(await snapshot(damaged), damagedBefore);

    // A malformed root.seal or a database that is not one: damaged.
    const bad = join(tmp, "bad");
    await (await openStore(bad, hsm)).close();
    const seal = await readFile(join(bad, "root.seal"));
    await writeFile(join(bad, "root.seal"), "{not json");
    await assert.rejects(openStore(bad, hsm), { name: "DataDirError", message: /root\.seal is malformed/ });
    await writeFile(join(bad, "root.seal"), seal);
    for (const name of await readdir(bad)) if (name.startsWith("kms.db-")) await rm(join(bad, name));
    await writeFile(join(bad, "kms.db"), "this is not a database file, just text that is long enough".repeat(20));
    await assert.rejects(openStore(bad, hsm), { name: "DataDirError", message: /damaged/ });
  });
});

test("close checkpoints and truncates the WAL: a cleanly closed directory keeps no copy of the pages written", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "data");
    const store = await openStore(dir, newHsm());
    for (let i = 0; i < 20; i++) await store.write([[`k/${i}`, new Uint8Array(4096).fill(i)]]);
    const wal = join(dir, "kms.db-wal");
    assert.ok((await stat(wal)).size > 20 * 4096, "the writes went to the WAL");
    await store.close();
    const left = await stat(wal).then((s) => s.size, () => 0);
    assert.equal(left, 0, "no WAL left after a clean close");
  });
});
