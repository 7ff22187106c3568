import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { apply } from "./apply.ts";
import type { Command } from "./commands.ts";
import { type ErrorKind, KmsError } from "./errors.ts";
import { DAY_MS, lifecycleOf, nextRotation } from "./lifecycle.ts";
import { recordsOfState, stateOf } from "./records.ts";
import { State } from "./state.ts";

const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");
const T0 = 1_700_000_000_000;
const meta = { description: "d", usage: "ENCRYPT_DECRYPT" as const, spec: "SYMMETRIC_DEFAULT" as const, tags: { team: "a" } };

function fresh(): State {
  const s = new State();
  apply(s, { type: "enclave.create", name: "e", at: T0, by: "h1:x" });
  apply(s, { type: "key.create", enclave: "e", name: "k", keyType: "AES256", material: material(1), addVersion: false, meta, at: T0, by: "h1:x" });
  return s;
}

/** Asserts that cmd fails with the given kind of error and changes nothing. */
function refused(s: State, cmd: Command, kind: ErrorKind): void {
  const before = structuredClone({ commit: s.commit, enclaves: s.enclaves });
  assert.throws(() => apply(s, cmd), (err: unknown) => {
    assert.ok(err instanceof KmsError);
    assert.equal(err.kind, kind);
    return true;
  });
  assert.deepEqual(structuredClone({ commit: s.commit, enclaves: s.enclaves }), before);
}

const rotateDue = (at: number, fill = 9): Command => ({ type: "key.rotate", enclave: "e", name: "k", material: material(fill), due: true, at, by: "leader" });

test("a created key carries its metadata and is Enabled; usableKey refuses disabled and pending-deletion keys", () => {
  const s = fresh();
  assert.deepEqual(lifecycleOf(s.keyRing("e", "k")), { ...meta, state: "Enabled", automatic: [] });
  s.usableKey("e", "k");
  apply(s, { type: "key.set-state", enclave: "e", name: "k", enabled: false });
  assert.throws(() => s.usableKey("e", "k"), (e: KmsError) => e.kind === "key-disabled");
  apply(s, { type: "key.set-state", enclave: "e", name: "k", enabled: true });
  apply(s, { type: "key.schedule-deletion", enclave: "e", name: "k", windowDays: 7, at: T0 });
  assert.throws(() => s.usableKey("e", "k"), (e: KmsError) => e.kind === "key-pending-deletion");
  // Pending deletion takes nothing but a cancel, which leaves the key Disabled.
  refused(s, { type: "key.set-state", enclave: "e", name: "k", enabled: true }, "key-pending-deletion");
  refused(s, { type: "key.schedule-deletion", enclave: "e", name: "k", windowDays: 7, at: T0 }, "key-pending-deletion");
  apply(s, { type: "key.cancel-deletion", enclave: "e", name: "k" });
  assert.equal(lifecycleOf(s.keyRing("e", "k")).state, "Disabled");
  assert.equal(lifecycleOf(s.keyRing("e", "k")).deletion, undefined);
  refused(s, { type: "key.cancel-deletion", enclave: "e", name: "k" }, "invalid-key-state");
});

test("key.purge deletes only a key still pending deletion whose date has passed at the command's time, with its aliases", () => {
  const s = fresh();
  apply(s, { type: "alias.set", enclave: "e", alias: "alias/app", key: "k", create: true, at: T0 });
  apply(s, { type: "key.schedule-deletion", enclave: "e", name: "k", windowDays: 7, at: T0 });
  const commit = s.commit;
  assert.deepEqual(apply(s, { type: "key.purge", enclave: "e", name: "k", at: T0 + 7 * DAY_MS - 1 }), []);
  assert.ok(s.enclave("e").keys.has("k"), "not due yet");
  assert.deepEqual(apply(s, { type: "key.purge", enclave: "e", name: "k", at: T0 + 7 * DAY_MS }).map((fx) => `${fx.kind} ${fx.name}`), ["key k", "alias alias/app"]);
  assert.ok(!s.enclave("e").keys.has("k"));
  assert.equal(s.enclave("e").aliases.size, 0);
  // Proposed again (a new leader that had not seen the first applied): nothing more happens.
  assert.deepEqual(apply(s, { type: "key.purge", enclave: "e", name: "k", at: T0 + 8 * DAY_MS }), []);
  assert.equal(s.commit, commit + 3);
});

test("a cancelled deletion is never purged, even by a purge proposed before the cancel applied", () => {
  const s = fresh();
  apply(s, { type: "key.schedule-deletion", enclave: "e", name: "k", windowDays: 30, at: T0 });
  apply(s, { type: "key.cancel-deletion", enclave: "e", name: "k" });
  assert.deepEqual(apply(s, { type: "key.purge", enclave: "e", name: "k", at: T0 + 31 * DAY_MS }), []);
  assert.ok(s.enclave("e").keys.has("k"));
});

test("automatic rotation adds one version when due; the same job proposed twice rotates once per period", () => {
  const s = fresh();
  apply(s, { type: "key.rotation", enclave: "e", name: "k", periodDays: 90, at: T0 });
  assert.equal(nextRotation(lifecycleOf(s.keyRing("e", "k"))), T0 + 90 * DAY_MS);
  assert.deepEqual(apply(s, rotateDue(T0 + 90 * DAY_MS - 1)), [], "not due yet");
  apply(s, rotateDue(T0 + 90 * DAY_MS));
  // The next leader proposes it again, a moment later: it finds nothing due.
  assert.deepEqual(apply(s, rotateDue(T0 + 90 * DAY_MS + 5_000, 10)), []);
  const ring = s.keyRing("e", "k");
  assert.deepEqual(ring.versions.map((v) => v.version), [1, 2]);
  assert.deepEqual(lifecycleOf(ring).automatic, [2]);
  assert.equal(nextRotation(lifecycleOf(ring)), T0 + 180 * DAY_MS);
  // On demand: always a version, not automatic, schedule unchanged.
  apply(s, { type: "key.rotate", enclave: "e", name: "k", material: material(3), due: false, at: T0 + DAY_MS, by: "h1:x" });
  assert.deepEqual(s.keyRing("e", "k").versions.map((v) => v.version), [1, 2, 3]);
  assert.deepEqual(lifecycleOf(s.keyRing("e", "k")).automatic, [2]);
  assert.equal(nextRotation(lifecycleOf(s.keyRing("e", "k"))), T0 + 180 * DAY_MS);
});

test("disabled keys do not rotate automatically, and refuse rotation on demand", () => {
  const s = fresh();
  apply(s, { type: "key.rotation", enclave: "e", name: "k", periodDays: 90, at: T0 });
  apply(s, { type: "key.set-state", enclave: "e", name: "k", enabled: false });
  assert.deepEqual(apply(s, rotateDue(T0 + 100 * DAY_MS)), []);
  refused(s, { type: "key.rotate", enclave: "e", name: "k", material: material(3), due: false, at: T0, by: "h1:x" }, "key-disabled");
});

test("HMAC keys cannot rotate", () => {
  const s = fresh();
  apply(s, { type: "key.create", enclave: "e", name: "h", keyType: "AES256", material: material(2), addVersion: false, meta: { ...meta, usage: "GENERATE_VERIFY_MAC", spec: "HMAC_256" }, at: T0, by: "h1:x" });
  refused(s, { type: "key.rotation", enclave: "e", name: "h", periodDays: 90, at: T0 }, "unsupported-operation");
});

test("tags, aliases and access keys: conflicts are refused, and every record survives a reload", () => {
  const s = fresh();
  apply(s, { type: "key.tag", enclave: "e", name: "k", set: { env: "prod" }, remove: ["team"] });
  assert.deepEqual(lifecycleOf(s.keyRing("e", "k")).tags, { env: "prod" });
  apply(s, { type: "alias.set", enclave: "e", alias: "alias/a", key: "k", create: true, at: T0 });
  refused(s, { type: "alias.set", enclave: "e", alias: "alias/a", key: "k", create: true, at: T0 }, "exists");
  refused(s, { type: "alias.set", enclave: "e", alias: "alias/b", key: "k", create: false, at: T0 }, "not-found");
  refused(s, { type: "alias.set", enclave: "e", alias: "alias/b", key: "missing", create: true, at: T0 }, "not-found");
  apply(s, { type: "identity.create", enclave: "e", identity: `h1:${"a".repeat(43)}`, privilege: "User", policy: "", serviceAccount: false, tags: {}, at: T0, by: "h1:x" });
  apply(s, { type: "access-key.create", enclave: "e", id: "AKIAAAAAAAAAAAAAAAAA", identity: `h1:${"a".repeat(43)}`, sealed: "c2VhbGVk", at: T0, by: "h1:x" });
  refused(s, { type: "access-key.create", enclave: "e", id: "AKIAAAAAAAAAAAAAAAAA", identity: `h1:${"a".repeat(43)}`, sealed: "c2VhbGVk", at: T0, by: "h1:x" }, "exists");
  assert.equal(s.accessKey("AKIAAAAAAAAAAAAAAAAA")?.identity, `h1:${"a".repeat(43)}`);
  const reloaded = stateOf(new Map(recordsOfState(s).map(([k, value]) => [k, value!])));
  assert.deepEqual(reloaded.enclave("e").aliases, s.enclave("e").aliases);
  assert.deepEqual(reloaded.enclave("e").accessKeys, s.enclave("e").accessKeys);
  assert.deepEqual(reloaded.keyRing("e", "k").lifecycle, s.keyRing("e", "k").lifecycle);
  // An identity's access keys go with it.
  apply(s, { type: "identity.delete", enclave: "e", identity: `h1:${"a".repeat(43)}` });
  assert.equal(s.accessKey("AKIAAAAAAAAAAAAAAAAA"), undefined);
  assert.equal(s.enclave("e").accessKeys.size, 0);
});

test("deleting a key (native rm-key --all) takes its aliases along", () => {
  const s = fresh();
  apply(s, { type: "alias.set", enclave: "e", alias: "alias/a", key: "k", create: true, at: T0 });
  apply(s, { type: "key.delete", enclave: "e", name: "k", version: 0, allVersions: true });
  assert.equal(s.enclave("e").aliases.size, 0);
});
