import { test } from "node:test";
import assert from "node:assert/strict";
import { changePending, commitVoters, configAt } from "./config.ts";
import { memberIds } from "./membership.ts";

const snapshot = { index: 10, term: 2, members: [{ id: 1, addr: "a" }, { id: 2, addr: "b" }] };
const confs = [
  { index: 12, change: { op: "add" as const, id: 3, addr: "c" } },
  { index: 15, change: { op: "remove" as const, id: 1 } },
];

test("configAt folds change entries onto the snapshot's membership", () => {
  const src = { snapshot, edit: null, confs };
  assert.deepEqual(memberIds(configAt(src, 11)), [1, 2]);
  assert.deepEqual(memberIds(configAt(src, 12)), [1, 2, 3]);
  assert.deepEqual(memberIds(configAt(src, 20)), [2, 3]);
});

test("commitVoters: old and new members while a change is pending", () => {
  const src = { snapshot, edit: null, confs };
  assert.deepEqual(commitVoters(src, 11), [1, 2, 3]);
  assert.deepEqual(commitVoters(src, 14), [1, 2, 3]);
  assert.deepEqual(commitVoters(src, 15), [2, 3]);
  assert.ok(changePending(src, 14));
  assert.ok(!changePending(src, 15));
});

test("a forced edit replaces the membership from its index on", () => {
  const src = { snapshot, edit: { index: 13, members: [{ id: 2, addr: "b" }] }, confs };
  assert.deepEqual(memberIds(configAt(src, 12)), [1, 2, 3]);
  assert.deepEqual(memberIds(configAt(src, 13)), [2]);
  assert.deepEqual(memberIds(configAt(src, 15)), [2]); // the pending removal of 1 changes nothing
  assert.deepEqual(commitVoters(src, 11), [2]);
});
