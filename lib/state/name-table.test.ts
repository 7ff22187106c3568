import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyRings } from "./key-rings.ts";
import { COMPACT } from "./ring-codec.ts";
import { page } from "./state.ts";
import type { KeyRing } from "./types.ts";

const BUN = "Bun" in globalThis;
const ring = (name: string, fill = 1): KeyRing => ({
  enclave: "e", name, nextVersion: 2,
  versions: [{ version: 1, type: "AES256", material: new Uint8Array(32).fill(fill), imported: false, createdAt: 1, createdBy: "h1:a" }],
});
/** A parser for test records: the record is '{' then the ring's fill byte (JSON-like: kept parsed once read). */
const parse = (name: string, bytes: Uint8Array) => ring(name, bytes[1]);
const record = (fill: number) => new Uint8Array([0x7b, fill]);
const scanned = (m: KeyRings, from = "") => {
  const out: string[] = [];
  m.scan(from, (n) => (out.push(n), true));
  return out;
};

test("names read at start and names set since read as one map: lookups, deletes, re-adds, overwrites, size, order, pages, copies", () => {
  const keys = new KeyRings(), want = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const name = `k${String(i * 7 % 3000).padStart(4, "0")}`;
    keys.addRecord(name, record(i % 200), false, parse);
    want.set(name, i % 200);
  }
  keys.set("z-ü", ring("z-ü", 9)); // a name the slab cannot hold
  want.set("z-ü", 9);
  assert.equal(keys.addRecord("k0007", record(99), false, parse), false, "held already: nothing changes");
  assert.equal(keys.addRecord("z-ü", record(99), false, parse), false);
  assert.equal(keys.get("k0007")?.versions[0].material[0], 1);
  const before = keys.copy();
  for (let i = 0; i < 3000; i += 3) {
    const name = `k${String(i).padStart(4, "0")}`;
    assert.equal(keys.delete(name), true);
    want.delete(name);
    if (i % 2) {
      keys.set(name, ring(name, 250)); // re-added after its delete
      want.set(name, 250);
    }
  }
  for (let i = 1; i < 3000; i += 5) {
    const name = `k${String(i).padStart(4, "0")}`;
    keys.set(name, ring(name, 251)); // replaced without a delete
    want.set(name, 251);
  }
  for (const name of ["a", "k0000x", "k2999a", "m"]) {
    keys.set(name, ring(name, 252));
    want.set(name, 252);
  }
  assert.equal(keys.delete("nope"), false);
  assert.equal(keys.delete("k0000"), false, "deleted already");
  assert.equal(keys.size, want.size);
  const sorted = [...want.keys()].sort();
  assert.deepEqual(scanned(keys), sorted, "every name once, in order");
  assert.deepEqual(scanned(keys, "k1500"), sorted.filter((n) => n >= "k1500"));
  assert.deepEqual(scanned(keys, "k1500a"), sorted.filter((n) => n >= "k1500a"));
  assert.deepEqual([...keys.keys()].sort(), sorted);
  for (const [name, fill] of want) {
    assert.equal(keys.has(name), true, name);
    assert.equal(keys.get(name)?.versions[0].material[0], fill, name);
  }
  const gone = Array.from({ length: 1000 }, (_, i) => `k${String(i * 3).padStart(4, "0")}`).filter((n) => !want.has(n));
  assert.ok(gone.length > 100);
  for (const name of gone) assert.equal(keys.has(name) || keys.get(name) !== undefined, false, name);
  assert.deepEqual(page(keys, "k2", "k2100", 10).items.map((r) => r.name), sorted.filter((n) => n.startsWith("k2") && n >= "k2100").slice(0, 10));
  assert.equal(before.size, 3001, "the copy taken before the changes does not see them");
  assert.equal(before.get("k0000")?.versions[0].material[0], 0);
  assert.deepEqual(scanned(before).length, 3001);
  keys.clear();
  assert.equal(keys.size, 0);
  assert.deepEqual(scanned(keys), []);
  assert.equal(keys.get("k0001"), undefined);
});

test("rings read at start hold no string or Map entry per name", { skip: BUN ? false : "Bun only (bun:jsc)" }, async () => {
  const { heapStats } = await import("bun:jsc");
  const n = 50_000;
  const strings = () => (Bun.gc(true), heapStats().objectTypeCounts.string ?? 0);
  const keys = new KeyRings();
  const before = strings();
  // Each name is a fresh string that only the map could keep.
  for (let i = 0; i < n; i++) keys.addRecord(`key-${String(i).padStart(16, "0")}`, record(1), false, parse);
  const held = strings() - before;
  assert.ok(held < n / 10, `${held} strings held for ${n} names`);
  assert.equal(keys.size, n);
  assert.equal(keys.get("key-0000000000012345")?.name, "key-0000000000012345");
});

test("compact rings cached by index: a replaced or deleted ring is never served from the cache, and slots shared by two indices read each right", () => {
  const keys = new KeyRings();
  const compact = (fill: number) => new Uint8Array([COMPACT, fill]);
  let parses = 0;
  const parseCompact = (name: string, bytes: Uint8Array) => (parses++, ring(name, bytes[1]));
  const n = 65_536 + 10; // indices 0..9 share their cache slots with 65,536..65,545
  for (let i = 0; i < n; i++) keys.addRecord(`c${i}`, compact(i % 250), false, parseCompact);
  assert.equal(keys.get("c3")?.versions[0].material[0], 3);
  assert.equal(keys.get("c3"), keys.get("c3"), "cached: the same ring");
  assert.equal(keys.get("c65539")?.versions[0].material[0], 65_539 % 250, "the slot's other index");
  assert.equal(keys.get("c3")?.versions[0].material[0], 3, "read again after its slot was taken");
  keys.set("c3", ring("c3", 251));
  assert.equal(keys.get("c3")?.versions[0].material[0], 251, "the ring set, not the cached one");
  keys.get("c4");
  keys.delete("c4");
  assert.equal(keys.get("c4"), undefined, "deleted, though it was cached");
  assert.equal(keys.has("c4"), false);
  assert.equal(keys.size, n - 1);
  const before = parses;
  for (let i = 0; i < 3; i++) keys.get("c7");
  assert.equal(parses - before, 1, "one parse, then the cache");
});
