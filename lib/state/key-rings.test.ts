import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { lifecycleJobs } from "../node/lifecycle-jobs.ts";
import { allMaterial, removedMaterial, Wiper } from "../node/wipe.ts";
import { keyBinding } from "../crypto/ciphertext.ts";
import { apply } from "./apply.ts";
import { Errors } from "./errors.ts";
import type { Command } from "./commands.ts";
import { recordsOf, stateOf } from "./records.ts";
import { DAY_MS } from "./lifecycle.ts";
import { KeyRings } from "./key-rings.ts";
import { enclaveEntry, frozenCopy, page, State } from "./state.ts";
import type { KeyRing } from "./types.ts";

const T0 = Date.UTC(2026, 0, 1);
const ring = (name: string, lifecycle?: KeyRing["lifecycle"]): KeyRing => ({
  enclave: "e", name, nextVersion: 2, ...(lifecycle ? { lifecycle } : {}),
  versions: [{ version: 1, type: "AES256", material: new Uint8Array(32), imported: false, createdAt: T0, createdBy: "h1:a" }],
});
const rotating = { description: "", usage: "ENCRYPT_DECRYPT", spec: "SYMMETRIC_DEFAULT", tags: {}, state: "Enabled", automatic: [], rotation: { periodDays: 1, since: T0 } } as unknown as KeyRing["lifecycle"];
const names = (k: KeyRings) => [...k.managed()].map(([n]) => n).sort();

test("KeyRings indexes exactly the rings with a lifecycle, through sets, overwrites, deletes and clear", () => {
  const keys = new KeyRings();
  keys.set("a", ring("a"));
  keys.set("b", ring("b", rotating));
  keys.set("c", ring("c", rotating));
  assert.deepEqual(names(keys), ["b", "c"]);
  keys.set("a", ring("a", rotating)); // gained one
  keys.set("b", ring("b")); // lost it
  keys.delete("c");
  assert.deepEqual(names(keys), ["a"]);
  assert.equal([...keys.managed()][0][1], keys.get("a"), "the ring itself");
  keys.clear();
  assert.deepEqual(names(keys), []);
});

test("the due jobs read only the rings with a lifecycle, and still find what is due", () => {
  const state = new State();
  state.enclaves.set("e", enclaveEntry({ name: "e", createdAt: T0, createdBy: "h1:a" }));
  const keys = state.enclave("e").keys;
  let reads = 0;
  for (let i = 0; i < 1000; i++) {
    const plain = ring(`k${i}`);
    // Counts every read of `lifecycle` after the ring was stored.
    keys.set(plain.name, plain);
    Object.defineProperty(plain, "lifecycle", { get: () => (reads++, undefined) });
  }
  keys.set("due", ring("due", rotating));
  const due = lifecycleJobs.due(state, T0 + 2 * DAY_MS);
  assert.deepEqual(due.map((c) => [c.type, "name" in c ? c.name : ""]), [["key.rotate", "due"]]);
  assert.equal(reads, 0, "keys without a lifecycle were not looked at");
});

/** A state's records, as a store holds them after applying `commands` one by one. */
function recordsAfter(commands: Command[]): Map<string, Uint8Array> {
  const state = new State();
  const records = new Map<string, Uint8Array>();
  for (const cmd of commands) {
    for (const [key, value] of recordsOf(apply(state, cmd), state.commit)) value === null ? records.delete(key) : records.set(key, value);
  }
  return records;
}

const create = (name: string, fill: number): Command => ({
  type: "key.create", enclave: "e", name, keyType: fill % 2 ? "AES256" : "ChaCha20", material: Buffer.alloc(32, fill).toString("base64"), addVersion: false, at: T0 + fill, by: `h1:by-${fill % 3}`,
});
const HISTORY: Command[] = [
  { type: "enclave.create", name: "e", at: T0, by: "h1:admin" },
  ...Array.from({ length: 20 }, (_, i) => create(`k${i}`, i + 1)),
  { ...create("k3", 99), addVersion: true } as Command,
  { type: "key.rotation", enclave: "e", name: "k5", periodDays: 1, at: T0 },
  { type: "key.schedule-deletion", enclave: "e", name: "k6", windowDays: 7, at: T0 },
  { type: "key.delete", enclave: "e", name: "k7", version: 0, allVersions: true },
];

test("rings read lazily (a server's start) stay bytes until first used, then read exactly as rings parsed at once", () => {
  const records = recordsAfter(HISTORY);
  const eager = stateOf(records), lazy = stateOf(records, { lazyRings: true });
  const keys = lazy.enclave("e").keys as KeyRings;
  assert.ok([...keys.held()].every((h) => h instanceof Uint8Array), "nothing parsed at start");
  assert.deepEqual(names(keys), names(eager.enclave("e").keys as KeyRings), "the lifecycle index, from the bytes");
  const parsed = () => [...keys.held()].filter((h) => !(h instanceof Uint8Array)).length;
  assert.equal(parsed(), 2, "reading the index parsed the two rings with a lifecycle");
  const copy = frozenCopy(lazy).enclave("e").keys as KeyRings;
  assert.equal(parsed(), 2, "a backup's copy parses nothing");
  assert.deepEqual(lazy.keyVersion("e", "k3", 0), eager.keyVersion("e", "k3", 0), "one ring, read on demand");
  assert.equal(parsed(), 2, "a compact ring stays bytes when read (ring-codec.ts)");
  assert.deepEqual([...keys.cached()].map((r) => r.name), ["k3"], "and is cached parsed");
  assert.equal(keys.get("k7"), undefined);
  assert.deepEqual(new Map(keys), new Map(eager.enclave("e").keys), "every ring, through iteration");
  assert.deepEqual(new Map(copy), new Map(eager.enclave("e").keys), "the copy reads the same");
  assert.deepEqual(page(keys, "k1", "", 5), page(eager.enclave("e").keys, "k1", "", 5), "a listing page");
  const due = (st: State) => lifecycleJobs.due(st, T0 + 8 * DAY_MS).map((c) => `${c.type} ${"name" in c ? c.name : ""}`).sort();
  assert.deepEqual(due(lazy), due(eager), "the due jobs");
  assert.deepEqual(due(lazy), ["key.purge k6", "key.rotate k5"]);
});

test("a lazily read ring that is not the ring its record names fails on use with a message that quotes nothing", () => {
  const records = recordsAfter(HISTORY.slice(0, 3));
  records.set("k/e/k0", records.get("k/e/k1")!); // k1's bytes under k0's name
  const lazy = stateOf(records, { lazyRings: true });
  assert.throws(() => lazy.keyRing("e", "k0"), (err: Error) => err.message === "a key record in the data directory cannot be read by this version of kms");
  assert.equal(lazy.keyRing("e", "k1").name, "k1");
});

test("at shutdown the bytes of rings never used are zeroed, without parsing them", () => {
  const lazy = stateOf(recordsAfter(HISTORY), { lazyRings: true });
  lazy.keyRing("e", "k1");
  const arrays = allMaterial(lazy);
  const keys = lazy.enclave("e").keys as KeyRings;
  const bytes = [...keys.held()].filter((h) => h instanceof Uint8Array);
  assert.equal(bytes.length, keys.size, "k1 was read (a compact ring: cached), yet every ring is held as bytes");
  const material = keys.get("k1")!.versions[0].material;
  assert.equal(keys.get("k1"), [...keys.cached()][0], "the cached ring, whose material the wipe zeroes");
  assert.ok([...bytes, material].every((b) => b.some((x) => x !== 0)));
  for (const a of arrays) a.fill(0);
  for (const b of bytes) assert.ok(b.every((x) => x === 0), "every unparsed record is wiped");
  assert.ok(material.every((x) => x === 0), "and the parsed ring's material");
  assert.equal([...keys.held()].filter((h) => h instanceof Uint8Array).length, keys.size, "without parsing any");
});

test("a ring deleted for good, or kept for recovery, has the bytes it was read from at start zeroed; other rings' stay", () => {
  const lazy = stateOf(recordsAfter(HISTORY), { lazyRings: true });
  const keys = lazy.enclave("e").keys as KeyRings;
  const [k1] = keys.recordBytesOf("k1"), [k2] = keys.recordBytesOf("k2"), [k4] = keys.recordBytesOf("k4");
  assert.ok([k1, k2, k4].every((b) => b.some((x) => x !== 0)), "held at start");
  const drop = (cmd: Command) => {
    for (const a of removedMaterial(lazy, cmd)) a.fill(0);
    apply(lazy, cmd);
  };
  drop({ type: "key.delete", enclave: "e", name: "k1", version: 0, allVersions: true });
  drop({ type: "key.delete", enclave: "e", name: "k2", version: 0, allVersions: true, keepUntil: T0 + DAY_MS });
  assert.ok(k1.every((x) => x === 0) && k2.every((x) => x === 0), "the deleted rings' bytes are zeroed");
  assert.ok(k4.some((x) => x !== 0), "another ring's are not");
  assert.equal(lazy.deleted.size, 1, "the ring kept for recovery lives on, parsed");
  assert.ok([...lazy.deleted.values()].every((d) => d.kind === "key" && d.ring.versions[0].material.some((x) => x !== 0)));
  assert.equal(keys.get("k4")?.name, "k4");
});

test("rings read from compact records stay bytes: at most 65,536 are cached parsed, however many are used", () => {
  const n = 70_000;
  const records = recordsAfter(HISTORY.slice(0, 2));
  const template = records.get("k/e/k0")!;
  const text = new TextDecoder().decode(template);
  for (let i = 1; i < n; i++) records.set(`k/e/x${i}`, new TextEncoder().encode(text.replace('"name":"k0"', `"name":"x${i}"`)));
  const lazy = stateOf(records, { lazyRings: true });
  const keys = lazy.enclave("e").keys as KeyRings;
  for (let i = 1; i < n; i++) assert.equal(keys.get(`x${i}`)?.name, `x${i}`);
  assert.equal([...keys.cached()].length, 65_536, "the last ones read");
  assert.ok([...keys.held()].every((h) => h instanceof Uint8Array), "none kept parsed");
  assert.deepEqual(keys.get("x1"), { ...keys.get("x2")!, name: "x1" }, "one read again, after it left the cache");
});

/** Waits until `done()` holds, or fails after `ms`: each check on a later task. */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

test("a ring evicted from the cache has its material zeroed through the wiper once no request holds it; rings in use are not", async () => {
  const n = 65_537; // x65536 takes the cache slot of k0 (index 0)
  const records = recordsAfter([...HISTORY.slice(0, 2), { ...create("k0", 77), addVersion: true } as Command]);
  const text = new TextDecoder().decode(records.get("k/e/k0")!);
  for (let i = 1; i < n; i++) records.set(`k/e/x${i}`, new TextEncoder().encode(text.replace('"name":"k0"', `"name":"x${i}"`)));
  records.set("k/e/zz", new TextEncoder().encode(text.replace('"name":"k0"', '"name":"zz"'))); // rotated below
  const lazy = stateOf(records, { lazyRings: true });
  const wiper = new Wiper();
  lazy.onDropped = (arrays) => wiper.wipeSoon(arrays);
  const held = lazy.usableBound("e", "k0");
  const [v1, v2] = held.ring.versions.map((v) => v.material);
  assert.ok(v1.some((x) => x !== 0) && v2.some((x) => x !== 0));
  const release = wiper.hold(); // a request holding k0's ring across an await (the AWS routes)
  lazy.keyRing("e", "x65536"); // evicts k0's ring
  assert.ok(v1.some((x) => x !== 0), "not in the lookup that evicted it: the same request may still use it");
  await new Promise((resolve) => setTimeout(resolve, 0)); // the wiper's task has run (timers keep their order)
  assert.ok(v1.some((x) => x !== 0) && v2.some((x) => x !== 0), "not while a request that began before holds it");
  release();
  await until(() => v1.every((x) => x === 0) && v2.every((x) => x === 0));
  assert.ok(lazy.keyRing("e", "x65536").versions.every((v) => v.material.some((x) => x !== 0)), "the ring in use is intact");
  assert.deepEqual(lazy.keyRing("e", "k0").versions.map((v) => v.material[0]), [1, 77], "k0 read again from its record");

  // A ring that goes into the state (a rotation keeps its versions) leaves the cache, so no eviction hands it over.
  const zz = lazy.keyRing("e", "zz");
  apply(lazy, { ...create("zz", 78), addVersion: true } as Command);
  for (let i = 1; i < n; i++) lazy.keyRing("e", `x${i}`); // every slot evicted at least once
  await new Promise((resolve) => setTimeout(resolve, 0)); // the wiper's task has run
  assert.ok(v1.every((x) => x === 0), "(evictions are zeroed meanwhile)");
  assert.equal(lazy.keyRing("e", "zz").versions[0].material, zz.versions[0].material, "the rotated ring kept the version read");
  assert.ok(zz.versions.every((v) => v.material.some((x) => x !== 0)), "and its material");
});

test("withKey reads a compact ring's latest version and binding in place (nothing parsed or cached), and every other ring whole", () => {
  const records = recordsAfter(HISTORY);
  const eager = stateOf(records), lazy = stateOf(records, { lazyRings: true });
  const keys = lazy.enclave("e").keys as KeyRings;
  const seen = (st: State, name: string, version = 0) =>
    st.withKey("e", name, version, (kv, binding) => ({ version: kv.version, type: kv.type, material: [...kv.material], binding: [...binding] }));
  const want = (name: string, version = 0) => {
    const kv = version === 0 ? eager.keyRing("e", name).versions.at(-1)! : eager.keyVersion("e", name, version);
    return { version: kv.version, type: kv.type, material: [...kv.material], binding: [...keyBinding("e", name)] };
  };
  for (const name of ["k0", "k1", "k3", "k5", "k19"]) {
    assert.deepEqual(seen(lazy, name), want(name), name);
    assert.deepEqual(seen(lazy, name), want(name), `${name}, its binding remembered`);
  }
  assert.deepEqual(seen(lazy, "k3", 1), want("k3", 1), "a version asked for by number: through the ring");
  assert.deepEqual([...keys.cached()].map((r) => r.name), ["k3"], "only the ring read whole was cached");
  assert.ok([...keys.held()].filter((h) => !(h instanceof Uint8Array)).length <= 2, "nothing parsed but the rings with a lifecycle");
  // The scratch arrays are zeroed once `use` returns, and a `use` that calls withKey again reads the ring.
  let scratch: Uint8Array | undefined;
  const inner = lazy.withKey("e", "k1", 0, (kv) => {
    scratch = kv.material;
    return lazy.withKey("e", "k2", 0, (kv2, binding) => ({ material: [...kv2.material], binding: [...binding], version: kv2.version, type: kv2.type }));
  });
  assert.deepEqual(inner, want("k2"));
  assert.ok(scratch!.every((x) => x === 0), "the material's scratch is zeroed after use");
  // Rings changed since start: the slab's bytes are stale, the state's ring is read.
  apply(lazy, { ...create("k1", 55), addVersion: true } as Command);
  apply(eager, { ...create("k1", 55), addVersion: true } as Command);
  assert.deepEqual(seen(lazy, "k1"), want("k1"), "a version added since start");
  assert.equal(seen(lazy, "k1").version, 2);
  apply(lazy, { type: "key.set-state", enclave: "e", name: "k4", enabled: false });
  assert.throws(() => seen(lazy, "k4"), (err: Error) => err.message === Errors.keyDisabled().message, "a disabled key is refused");
  assert.throws(() => seen(lazy, "k7"), (err: Error) => err.message === Errors.keyNotFound().message);
  assert.throws(() => seen(lazy, "nope"), (err: Error) => err.message === Errors.keyNotFound().message);
});
