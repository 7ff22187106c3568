import { test } from "node:test";
import assert from "node:assert/strict";
import { SoftHsm } from "../hsm/soft.ts";
import { openStore, type Store } from "../store/store.ts";
import { bootstrapState } from "../cluster/storage.ts";
import type { Entry, Persist } from "../cluster/types.ts";
import { withTempDir } from "../../tests/support/store.ts";
import { RecordStorage, ROW_ENTRIES } from "./record-storage.ts";
import { fromJson, toJson } from "./seal.ts";

type Cmd = { n: number; secret: string };
const entry = (index: number, term = 1): Entry<Cmd> => ({ index, term, type: "cmd", cmd: { n: index, secret: `s${index}t${term}` } });
const range = (from: number, to: number, term = 1) => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const persist = (p: Partial<Persist<Cmd>>): Persist<Cmd> => ({ hard: null, snapshot: null, truncateFrom: null, entries: [], ...p });
const members = [{ id: 0, addr: "127.0.0.1:1" }];
const hard = (commit: number, term = 1) => ({ term, vote: 0, commit, markers: [], edit: null });

/** The log rows on disk in index order: key → the indexes (and terms) of the entries each holds. */
async function logRows(store: Store): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  for (const [key, value] of await store.load()) {
    if (!key.startsWith("r/e/")) continue;
    const row = fromJson(new TextDecoder().decode(value)) as Entry<Cmd> | Entry<Cmd>[];
    rows.set(key, (Array.isArray(row) ? row : [row]).map((e) => `${e.index}@${e.term}`));
  }
  return new Map([...rows].sort(([a], [b]) => Number(a.slice(4)) - Number(b.slice(4))));
}

/** A fresh node's storage over a real store in a temporary directory. */
async function withStorage(fn: (storage: RecordStorage<Cmd>, store: Store, dir: string, hsm: SoftHsm) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = await openStore(dir, hsm);
    try {
      const fresh = bootstrapState<Cmd>(members, new Uint8Array([1]));
      const storage = new RecordStorage<Cmd>(store, fresh);
      await storage.reset(fresh);
      await fn(storage, store, dir, hsm);
    } finally {
      await store.close();
    }
  });
}

test("a Ready's entries share one log row: one record sealed and stored for 32 writes, not 32", async () => {
  await withStorage(async (storage, store) => {
    const generation = store.generation;
    await storage.write(persist({ entries: range(1, 32), hard: hard(0) }));
    assert.equal(store.generation, generation + 1, "one transaction");
    assert.deepEqual(await logRows(store), new Map([["r/e/1", range(1, 32).map((e) => `${e.index}@1`)]]));
    await storage.write(persist({ entries: range(33, 33) }));
    assert.deepEqual([...(await logRows(store)).keys()], ["r/e/1", "r/e/33"]);
    const read = RecordStorage.read<Cmd>(await store.load())!;
    assert.deepEqual(read.durable.entries, range(1, 33));
    assert.deepEqual(read.rows.map((r) => r.length), [32, 1]);
  });
});

test("a large append is cut into rows of at most ROW_ENTRIES", async () => {
  await withStorage(async (storage, store) => {
    const n = ROW_ENTRIES * 2 + 5;
    await storage.write(persist({ entries: range(1, n) }));
    const rows = await logRows(store);
    assert.deepEqual([...rows.keys()], ["r/e/1", `r/e/${ROW_ENTRIES + 1}`, `r/e/${2 * ROW_ENTRIES + 1}`]);
    assert.deepEqual([...rows.values()].map((r) => r.length), [ROW_ENTRIES, ROW_ENTRIES, 5]);
    assert.deepEqual(RecordStorage.read<Cmd>(await store.load())!.durable.entries, range(1, n));
  });
});

test("compaction inside a row leaves no compacted entry on disk (a deleted key's material goes with it)", async () => {
  await withStorage(async (storage, store) => {
    await storage.write(persist({ entries: range(1, 10) }));
    await storage.write(persist({ entries: range(11, 12) }));
    await storage.write(persist({ snapshot: { index: 6, term: 1, members, data: new Uint8Array([2]) } }));
    assert.deepEqual(await logRows(store), new Map([["r/e/7", ["7@1", "8@1", "9@1", "10@1"]], ["r/e/11", ["11@1", "12@1"]]]));
    for (const value of (await store.load()).values()) {
      for (let i = 1; i <= 6; i++) assert.ok(!new TextDecoder().decode(value).includes(`"s${i}t1"`), `entry ${i} is gone`);
    }
    await storage.write(persist({ snapshot: { index: 12, term: 1, members, data: new Uint8Array([3]) } }));
    assert.deepEqual(await logRows(store), new Map());
  });
});

test("truncation inside a row rewrites what it keeps, and the new entries replace the rest", async () => {
  await withStorage(async (storage, store, dir, hsm) => {
    await storage.write(persist({ entries: range(1, 10) }));
    await storage.write(persist({ truncateFrom: 5, entries: range(5, 6, 2), hard: hard(0, 2) }));
    assert.deepEqual(await logRows(store), new Map([["r/e/1", ["1@1", "2@1", "3@1", "4@1"]], ["r/e/5", ["5@2", "6@2"]]]));
    // Truncating at a row's first entry deletes it whole.
    await storage.write(persist({ truncateFrom: 5, entries: range(5, 5, 3) }));
    assert.deepEqual(await logRows(store), new Map([["r/e/1", ["1@1", "2@1", "3@1", "4@1"]], ["r/e/5", ["5@3"]]]));
    await store.close();
    const reopened = await openStore(dir, hsm);
    try {
      assert.deepEqual(RecordStorage.read<Cmd>(await reopened.load())!.durable.entries, [...range(1, 4), entry(5, 3)]);
    } finally {
      await reopened.close();
    }
  });
});

test("a log written one entry per record (the format before) is read, truncated and compacted alike", async () => {
  await withStorage(async (_storage, store) => {
    const enc = (v: unknown) => new TextEncoder().encode(toJson(v));
    // What the previous release wrote: r/e/<index> holding one entry object.
    await store.write(range(1, 5).map((e) => [`r/e/${e.index}`, enc(e)] as const));
    const read = RecordStorage.read<Cmd>(await store.load())!;
    assert.deepEqual(read.durable.entries, range(1, 5));
    const storage = new RecordStorage<Cmd>(store, read.durable, read.rows);
    await storage.write(persist({ truncateFrom: 5, entries: range(5, 7, 2) }));
    assert.deepEqual(await logRows(store), new Map([
      ["r/e/1", ["1@1"]], ["r/e/2", ["2@1"]], ["r/e/3", ["3@1"]], ["r/e/4", ["4@1"]], ["r/e/5", ["5@2", "6@2", "7@2"]],
    ]));
    await storage.write(persist({ snapshot: { index: 5, term: 2, members, data: new Uint8Array([2]) } }));
    assert.deepEqual(await logRows(store), new Map([["r/e/6", ["6@2", "7@2"]]]));
  });
});
