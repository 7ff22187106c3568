import { test } from "node:test";
import assert from "node:assert/strict";
import { lifecycleJobs } from "../node/lifecycle-jobs.ts";
import { DAY_MS } from "./lifecycle.ts";
import { KeyRings } from "./key-rings.ts";
import { enclaveEntry, State } from "./state.ts";
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
