import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { apply } from "./apply.ts";
import type { Command } from "./commands.ts";
import { recordOf, recordsOf, stateOf } from "./records.ts";
import { State } from "./state.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (value: unknown) => enc.encode(JSON.stringify(value));
const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");

/** A state and the record map a store would hold after applying the same commands one by one. */
function build(commands: Command[]): { state: State; records: Map<string, Uint8Array> } {
  const state = new State();
  const records = new Map<string, Uint8Array>();
  for (const cmd of commands) {
    const effects = apply(state, cmd);
    for (const [key, value] of recordsOf(effects, state.commit)) {
      if (value === null) records.delete(key);
      else records.set(key, value);
    }
  }
  return { state, records };
}

const keyCreate = (enclave: string, name: string, fill: number, addVersion = false, keyType: "AES256" | "ChaCha20" = "AES256"): Command => ({
  type: "key.create", enclave, name, keyType, material: material(fill), addVersion, at: 1_700_000_000_123 + fill, by: `h1:by-${fill}`,
});

const HISTORY: Command[] = [
  { type: "enclave.create", name: "e1", at: 1_700_000_000_000, by: "h1:admin" },
  { type: "enclave.create", name: "e2", at: 1_700_000_000_001, by: "h1:other" },
  { type: "enclave.create", name: "gone", at: 5, by: "h1:admin" },
  keyCreate("e1", "k1", 1),
  keyCreate("e1", "k1", 2, true, "ChaCha20"),
  keyCreate("e1", "k1", 3, true),
  { type: "key.delete", enclave: "e1", name: "k1", version: 2, allVersions: false },
  keyCreate("e1", "k2", 4, false, "ChaCha20"),
  keyCreate("e2", "k1", 5),
  keyCreate("e2", "dropped", 6),
  { type: "key.delete", enclave: "e2", name: "dropped", version: 0, allVersions: true },
  keyCreate("gone", "k", 7),
  { type: "enclave.delete", name: "gone" },
];

test("recordsOf → stateOf round trip rebuilds an equal state: versions, material bytes, provenance, commit", () => {
  const { state, records } = build(HISTORY);
  assert.equal(state.commit, HISTORY.length);
  const rebuilt = stateOf(records);
  assert.deepEqual(rebuilt, state);
  // Spot checks that would survive a lenient deepEqual.
  assert.equal(rebuilt.commit, HISTORY.length);
  assert.deepEqual([...rebuilt.enclaves.keys()].sort(), ["e1", "e2"]);
  const ring = rebuilt.keyRing("e1", "k1");
  assert.deepEqual(ring.versions.map((v) => v.version), [1, 3]);
  assert.equal(ring.nextVersion, 4);
  const v3 = rebuilt.keyVersion("e1", "k1", 3);
  assert.ok(v3.material instanceof Uint8Array);
  assert.equal(Object.getPrototypeOf(v3.material), Uint8Array.prototype);
  assert.deepEqual(v3.material, new Uint8Array(32).fill(3));
  assert.equal(v3.createdAt, 1_700_000_000_126);
  assert.equal(v3.createdBy, "h1:by-3");
  assert.equal(rebuilt.keyVersion("e1", "k2", 1).type, "ChaCha20");
  assert.deepEqual(rebuilt.enclave("e2").record, { name: "e2", createdAt: 1_700_000_000_001, createdBy: "h1:other" });
  assert.throws(() => rebuilt.keyRing("e2", "dropped"), { kind: "not-found" });
  assert.throws(() => rebuilt.enclave("gone"), { kind: "not-found" });
  // Deleted things left no records behind.
  assert.deepEqual([...records.keys()].filter((k) => k.includes("gone") || k.includes("dropped")), []);
});

test("a rebuilt state keeps working: nextVersion survives the round trip", () => {
  const { records } = build(HISTORY);
  const rebuilt = stateOf(records);
  apply(rebuilt, keyCreate("e1", "k1", 9, true));
  assert.deepEqual(rebuilt.keyRing("e1", "k1").versions.map((v) => v.version), [1, 3, 4]);
  assert.equal(rebuilt.commit, HISTORY.length + 1);
});

test("record order does not matter: key records before their enclave's record load the same", () => {
  const { state, records } = build(HISTORY);
  const reversed = new Map([...records].reverse());
  assert.deepEqual(stateOf(reversed), state);
});

test("record layout: e/<enclave>, k/<enclave>/<key>, m/commit; key material is stored as base64, never raw", () => {
  const { records } = build(HISTORY.slice(0, 4));
  assert.deepEqual([...records.keys()].sort(), ["e/e1", "e/e2", "e/gone", "k/e1/k1", "m/commit"]);
  assert.equal(dec.decode(records.get("m/commit")!), "4");
  const ring = JSON.parse(dec.decode(records.get("k/e1/k1")!));
  assert.equal(ring.versions[0].material, material(1));
  const enclave = JSON.parse(dec.decode(records.get("e/e1")!));
  assert.deepEqual(enclave, { name: "e1", createdAt: 1_700_000_000_000, createdBy: "h1:admin" });
});

test("recordOf: a deletion effect maps to the record key with a null value", () => {
  const s = new State();
  apply(s, HISTORY[0]);
  apply(s, keyCreate("e1", "k", 1));
  const [keyDel] = apply(s, { type: "key.delete", enclave: "e1", name: "k", version: 0, allVersions: true });
  assert.deepEqual(recordOf(keyDel), ["k/e1/k", null]);
  const effects = apply(s, { type: "enclave.delete", name: "e1" });
  assert.deepEqual(effects.map(recordOf), [["e/e1", null]]);
  // recordsOf always ends with the commit number.
  const all = recordsOf(effects, 42);
  assert.deepEqual(all[all.length - 1][0], "m/commit");
  assert.equal(dec.decode(all[all.length - 1][1]!), "42");
});

test("n/… records are node-local: stateOf ignores them", () => {
  const { state, records } = build(HISTORY);
  records.set("n/tls", json({ key: "-----BEGIN PRIVATE KEY-----\n...", cert: "-----BEGIN CERTIFICATE-----\n..." }));
  records.set("n/anything", json({ whatever: [1, 2, 3] }));
  assert.deepEqual(stateOf(records), state);
});

test("an empty record map is the empty state", () => {
  const s = stateOf(new Map());
  assert.equal(s.commit, 0);
  assert.equal(s.enclaves.size, 0);
});

test("corrupt records throw: bad JSON, wrong shapes, unknown kinds, orphaned keys", () => {
  const { records } = build(HISTORY.slice(0, 4));
  const withRecord = (key: string, value: Uint8Array) => new Map([...records, [key, value]]);
  const ring = JSON.parse(dec.decode(records.get("k/e1/k1")!));
  const cases: Array<[string, string, Uint8Array]> = [
    ["not JSON", "e/e9", enc.encode("{not json")],
    ["empty value", "e/e9", new Uint8Array(0)],
    ["enclave missing createdBy", "e/e9", json({ name: "e9", createdAt: 1 })],
    ["enclave with an invalid name", "e/e9", json({ name: "a/b", createdAt: 1, createdBy: "x" })],
    ["enclave as an array", "e/e9", json(["e9"])],
    ["key with an unknown type", "k/e1/k1", json({ ...ring, versions: [{ ...ring.versions[0], type: "DES" }] })],
    ["key with material that is not base64", "k/e1/k1", json({ ...ring, versions: [{ ...ring.versions[0], material: "%%%" }] })],
    ["key without versions", "k/e1/k1", json({ enclave: "e1", name: "k1", nextVersion: 2 })],
    ["key in a missing enclave", "k/nope/k1", json({ ...ring, enclave: "nope" })],
    ["commit that is not a number", "m/commit", json("4")],
    ["unknown kind", "x/foo", json({})],
    ["unknown kind without a slash", "zzz", json({})],
  ];
  for (const [what, key, value] of cases) {
    assert.throws(() => stateOf(withRecord(key, value)), Error, `${what} must throw`);
  }
});

test("the admin-key setting is a record (s/admin-key) and survives the round trip; legacy key versions read as imported only at version 1", () => {
  const s = new State();
  apply(s, { type: "enclave.create", name: "ops", at: 1, by: "h1:op" });
  apply(s, { type: "identity.create", enclave: "ops", identity: "h1:" + "S".repeat(43), privilege: "SysAdmin", policy: "", serviceAccount: false, tags: {}, at: 1, by: "h1:op" });
  const [fx] = apply(s, { type: "admin-key.set", enabled: false, at: 5, by: "h1:op" });
  const [key, value] = recordOf(fx);
  assert.equal(key, "s/admin-key");
  const records = new Map([...recordsOf(apply(s, { type: "enclave.create", name: "e2", at: 6, by: "h1:op" }), s.commit)].map(([k, v]) => [k, v!]));
  records.set(key, value!);
  records.set("e/ops", json({ name: "ops", createdAt: 1, createdBy: "h1:op" }));
  assert.deepEqual(stateOf(records).adminKey, { disabled: true, changedAt: 5, changedBy: "h1:op" });
  // A key ring written before `imported` existed: version 1 may hold imported bytes, later ones cannot.
  const ring = { enclave: "ops", name: "k", nextVersion: 3, versions: [1, 2].map((version) => ({ version, type: "AES256", material: Buffer.alloc(32).toString("base64"), createdAt: 1, createdBy: "h1:op" })) };
  const legacy = stateOf(new Map([["e/ops", json({ name: "ops", createdAt: 1, createdBy: "h1:op" })], ["k/ops/k", json(ring)]]));
  assert.deepEqual(legacy.keyRing("ops", "k").versions.map((v) => v.imported), [true, false]);
});
