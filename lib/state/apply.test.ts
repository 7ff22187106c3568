import { test } from "node:test";
import assert from "node:assert/strict";
import { statusOf } from "../wire/errors.ts";
import { Buffer } from "node:buffer";
import { apply, type Effect, install, prepare } from "./apply.ts";
import type { Command } from "./commands.ts";
import { KmsError } from "./errors.ts";
import { State } from "./state.ts";

/** 32 bytes of recognisable key material: every byte is `fill`. */
const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");

const enclaveCreate = (name: string, at = 1000, by = "h1:creator"): Command => ({ type: "enclave.create", name, at, by });
const enclaveDelete = (name: string): Command => ({ type: "enclave.delete", name });
const keyCreate = (enclave: string, name: string, opts: { addVersion?: boolean; fill?: number; keyType?: "AES256" | "ChaCha20"; at?: number } = {}): Command => ({
  type: "key.create",
  enclave,
  name,
  keyType: opts.keyType ?? "AES256",
  material: material(opts.fill ?? 1),
  addVersion: opts.addVersion ?? false,
  at: opts.at ?? 2000,
  by: "h1:keymaker",
});
const keyDelete = (enclave: string, name: string, version: number, allVersions = false): Command => ({
  type: "key.delete",
  enclave,
  name,
  version,
  allVersions,
});

/** A deep copy of everything in the state, for before/after comparison. */
const snapshot = (s: State) => structuredClone({ commit: s.commit, enclaves: s.enclaves });

/** Asserts that applying cmd fails with exactly (status, message) and changes nothing at all. */
function assertRejected(state: State, cmd: Command, status: number, message: string): void {
  const before = snapshot(state);
  const check = (err: unknown) => {
    assert.ok(err instanceof KmsError, `expected a KmsError, got ${err}`);
    assert.equal(statusOf(err), status);
    assert.equal(err.message, message);
    return true;
  };
  assert.throws(() => prepare(state, cmd), check);
  assert.deepEqual(snapshot(state), before, "prepare() changed the state");
  assert.throws(() => apply(state, cmd), check);
  assert.deepEqual(snapshot(state), before, "a failed apply() changed the state");
}

/** An effect as "kind name=set|null", independent of how effects carry other fields. */
const summary = (effects: readonly Effect[]) => effects.map((fx) => `${fx.kind} ${fx.name}=${fx.value === null ? "null" : "set"}`);

const versionsOf = (s: State, enclave: string, key: string) => s.keyRing(enclave, key).versions.map((v) => v.version);

test("enclave.create records name, creation time and creator and counts one commit", () => {
  const s = new State();
  assert.equal(s.commit, 0);
  const effects = apply(s, enclaveCreate("e1", 1234, "h1:alice"));
  assert.equal(s.commit, 1);
  assert.deepEqual(summary(effects), ["enclave e1=set"]);
  assert.deepEqual(effects[0].value, { name: "e1", createdAt: 1234, createdBy: "h1:alice" });
  const e = s.enclave("e1");
  assert.deepEqual(e.record, { name: "e1", createdAt: 1234, createdBy: "h1:alice" });
  assert.equal(e.keys.size, 0);
  apply(s, enclaveCreate("e2"));
  assert.deepEqual([...s.enclaves.keys()].sort(), ["e1", "e2"]);
  assert.equal(s.commit, 2);
});

test("enclave.create of an existing enclave: 409 'enclave already exists', nothing changes", () => {
  const s = new State();
  apply(s, enclaveCreate("e1", 1, "h1:first"));
  apply(s, keyCreate("e1", "k1"));
  assertRejected(s, enclaveCreate("e1", 2, "h1:second"), 409, "enclave already exists");
  assert.equal(s.enclave("e1").record.createdBy, "h1:first");
  assert.deepEqual(versionsOf(s, "e1", "k1"), [1]);
});

test("enclave.delete removes the enclave and every key in it, and nothing in other enclaves", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, enclaveCreate("e2"));
  apply(s, keyCreate("e1", "a"));
  apply(s, keyCreate("e1", "b"));
  apply(s, keyCreate("e1", "b", { addVersion: true }));
  apply(s, keyCreate("e2", "a", { fill: 9 }));
  const commit = s.commit;
  const effects = apply(s, enclaveDelete("e1"));
  assert.equal(s.commit, commit + 1, "one command is one commit, however many records it touches");
  // Effects delete every key record and then the enclave record.
  assert.deepEqual(summary(effects).sort(), ["enclave e1=null", "key a=null", "key b=null"]);
  for (const fx of effects) if (fx.kind === "key") assert.equal(fx.enclave, "e1");
  assert.equal(effects[effects.length - 1].kind, "enclave");
  assert.equal(s.enclaves.has("e1"), false);
  assert.throws(() => s.keyRing("e1", "a"), { kind: "not-found", message: "enclave does not exist" });
  // The other enclave's key of the same name is untouched.
  assert.deepEqual(s.keyVersion("e2", "a", 0).material, new Uint8Array(32).fill(9));

  // A re-created enclave of the same name starts empty: the old keys do not come back.
  apply(s, enclaveCreate("e1"));
  assert.equal(s.enclave("e1").keys.size, 0);
  assert.throws(() => s.keyRing("e1", "a"), { kind: "not-found", message: "key does not exist" });
});

test("enclave.delete of a missing enclave: 404 'enclave does not exist', nothing changes", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  assertRejected(s, enclaveDelete("nope"), 404, "enclave does not exist");
  assertRejected(new State(), enclaveDelete("e1"), 404, "enclave does not exist");
});

test("key.create makes version 1 with the command's type, material and provenance", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k1", { fill: 7, keyType: "ChaCha20", at: 5555 }));
  const ring = s.keyRing("e1", "k1");
  assert.equal(ring.enclave, "e1");
  assert.equal(ring.name, "k1");
  assert.equal(ring.nextVersion, 2);
  assert.equal(ring.versions.length, 1);
  const v1 = ring.versions[0];
  assert.equal(v1.version, 1);
  assert.equal(v1.type, "ChaCha20");
  assert.deepEqual(v1.material, new Uint8Array(32).fill(7));
  assert.equal(Object.getPrototypeOf(v1.material), Uint8Array.prototype);
  assert.equal(v1.createdAt, 5555);
  assert.equal(v1.createdBy, "h1:keymaker");
});

test("key.create with addVersion adds versions 1, 2, 3 in order; each keeps its own material", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k", { fill: 1 }));
  const v1Ring = s.keyRing("e1", "k");
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 2, keyType: "ChaCha20" }));
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 3 }));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1, 2, 3]);
  assert.equal(s.keyRing("e1", "k").nextVersion, 4);
  for (const n of [1, 2, 3]) assert.deepEqual(s.keyVersion("e1", "k", n).material, new Uint8Array(32).fill(n));
  assert.equal(s.keyVersion("e1", "k", 2).type, "ChaCha20");
  assert.equal(s.keyVersion("e1", "k", 0).version, 3, "version 0 is the latest");
  // Rings are replaced, never mutated: a reader holding the old ring still sees version 1 only.
  assert.deepEqual(v1Ring.versions.map((v) => v.version), [1]);
});

test("key.create errors: missing enclave 404, existing key 409, addVersion on a missing key 404; nothing changes", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k1", { fill: 1 }));
  assertRejected(s, keyCreate("nope", "k1"), 404, "enclave does not exist");
  assertRejected(s, keyCreate("nope", "k1", { addVersion: true }), 404, "enclave does not exist");
  assertRejected(s, keyCreate("e1", "k1", { fill: 2 }), 409, "key already exists");
  assertRejected(s, keyCreate("e1", "k2", { addVersion: true }), 404, "key does not exist");
  assert.deepEqual(s.keyVersion("e1", "k1", 1).material, new Uint8Array(32).fill(1));
});

test("key.delete of one version keeps the others; the version number is never reused", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k", { fill: 1 }));
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 2 }));
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 3 }));
  apply(s, keyDelete("e1", "k", 2));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1, 3]);
  assert.throws(() => s.keyVersion("e1", "k", 2), { kind: "not-found", message: "key does not exist" });

  // Deleting the latest version must not free its number.
  apply(s, keyDelete("e1", "k", 3));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1]);
  assert.equal(s.keyRing("e1", "k").nextVersion, 4);
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 4 }));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1, 4]);
  assert.deepEqual(s.keyVersion("e1", "k", 4).material, new Uint8Array(32).fill(4));
  assert.throws(() => s.keyVersion("e1", "k", 3), { kind: "not-found" });
});

test("key.delete with version 0 deletes the latest version only", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k", { fill: 1 }));
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 2 }));
  apply(s, keyCreate("e1", "k", { addVersion: true, fill: 3 }));
  apply(s, keyDelete("e1", "k", 0));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1, 2]);
  apply(s, keyDelete("e1", "k", 0));
  assert.deepEqual(versionsOf(s, "e1", "k"), [1]);
  assert.equal(s.keyRing("e1", "k").nextVersion, 4);
});

test("key.delete with allVersions removes the whole key, whatever version is named", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k"));
  apply(s, keyCreate("e1", "k", { addVersion: true }));
  apply(s, keyCreate("e1", "other"));
  const effects = apply(s, keyDelete("e1", "k", 0, true));
  assert.deepEqual(summary(effects), ["key k=null"]);
  assert.equal(s.enclave("e1").keys.has("k"), false);
  assert.throws(() => s.keyRing("e1", "k"), { kind: "not-found", message: "key does not exist" });
  assert.deepEqual(versionsOf(s, "e1", "other"), [1]);
  // The name is free again.
  apply(s, keyCreate("e1", "k", { fill: 5 }));
  assert.deepEqual(s.keyVersion("e1", "k", 0).material, new Uint8Array(32).fill(5));
});

test("key.delete of the last remaining version removes the key", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k"));
  apply(s, keyCreate("e1", "k", { addVersion: true }));
  apply(s, keyDelete("e1", "k", 1));
  assert.deepEqual(versionsOf(s, "e1", "k"), [2]);
  const effects = apply(s, keyDelete("e1", "k", 2));
  assert.deepEqual(summary(effects), ["key k=null"]);
  assert.equal(s.enclave("e1").keys.has("k"), false);
  assertRejected(s, keyCreate("e1", "k", { addVersion: true }), 404, "key does not exist");
});

test("key.delete errors: missing enclave, key or version are 404s; nothing changes", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k"));
  apply(s, keyCreate("e1", "k", { addVersion: true }));
  apply(s, keyDelete("e1", "k", 1));
  assertRejected(s, keyDelete("nope", "k", 0), 404, "enclave does not exist");
  assertRejected(s, keyDelete("nope", "k", 0, true), 404, "enclave does not exist");
  assertRejected(s, keyDelete("e1", "nope", 0), 404, "key does not exist");
  assertRejected(s, keyDelete("e1", "nope", 0, true), 404, "key does not exist");
  assertRejected(s, keyDelete("e1", "k", 1), 404, "key does not exist"); // already deleted
  assertRejected(s, keyDelete("e1", "k", 3), 404, "key does not exist"); // never existed
  assert.deepEqual(versionsOf(s, "e1", "k"), [2]);
});

test("prepare computes effects without changing the state; install then applies them and counts one commit", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  apply(s, keyCreate("e1", "k"));
  const before = snapshot(s);
  const effects = prepare(s, keyCreate("e1", "k", { addVersion: true, fill: 8 }));
  assert.deepEqual(snapshot(s), before);
  assert.equal(effects.length, 1);
  const fx = effects[0];
  assert.ok(fx.kind === "key" && fx.value);
  assert.deepEqual(fx.value.versions.map((v) => v.version), [1, 2]);
  install(s, effects);
  assert.equal(s.commit, before.commit + 1);
  assert.deepEqual(versionsOf(s, "e1", "k"), [1, 2]);
  assert.deepEqual(s.keyVersion("e1", "k", 2).material, new Uint8Array(32).fill(8));
});

test("the commit counter counts successful commands only", () => {
  const s = new State();
  apply(s, enclaveCreate("e1"));
  assert.throws(() => apply(s, enclaveCreate("e1")));
  assert.throws(() => apply(s, keyDelete("e1", "k", 0)));
  apply(s, keyCreate("e1", "k"));
  apply(s, keyDelete("e1", "k", 0, true));
  apply(s, enclaveDelete("e1"));
  assert.equal(s.commit, 4);
});

test("admin-key.set: disabling needs a stored SysAdmin; re-enabling needs a later time than the last change", () => {
  const s = new State();
  const set = (enabled: boolean, at: number): Command => ({ type: "admin-key.set", enabled, at, by: "h1:op" });
  assert.throws(() => apply(s, set(false, 10)), (e: unknown) => e instanceof KmsError && statusOf(e) === 409 && /no SysAdmin identity is stored/.test(e.message));
  assert.equal(s.adminKey.disabled, false);
  apply(s, enclaveCreate("ops"));
  apply(s, { type: "identity.create", enclave: "ops", identity: "h1:" + "S".repeat(43), privilege: "SysAdmin", policy: "", serviceAccount: false, tags: {}, at: 1, by: "h1:op" });
  apply(s, set(false, 10));
  assert.deepEqual(s.adminKey, { disabled: true, changedAt: 10, changedBy: "h1:op" });
  assert.throws(() => apply(s, set(true, 10)), (e: unknown) => e instanceof KmsError && statusOf(e) === 409 && /older than the last change/.test(e.message));
  apply(s, set(true, 11));
  assert.equal(s.adminKey.disabled, false);
});
