import { test } from "node:test";
import assert from "node:assert/strict";
import { applyChange, checkChange, hasMember, memberIds, unionIds, withoutIds } from "./membership.ts";

const ms = [{ id: 1, addr: "a" }, { id: 3, addr: "c" }];

test("applyChange adds in id order and removes; both are idempotent", () => {
  const added = applyChange(ms, { op: "add", id: 2, addr: "b" });
  assert.deepEqual(memberIds(added), [1, 2, 3]);
  assert.deepEqual(applyChange(added, { op: "add", id: 2, addr: "b2" }).find((m) => m.id === 2)?.addr, "b2");
  assert.deepEqual(memberIds(applyChange(added, { op: "remove", id: 1 })), [2, 3]);
  assert.equal(applyChange(ms, { op: "remove", id: 9 }), ms);
  assert.ok(hasMember(added, 2) && !hasMember(ms, 2));
});

test("checkChange refuses duplicates, unknown members, the last member and bad ids", () => {
  assert.equal(checkChange(ms, { op: "add", id: 2, addr: "b" }), null);
  assert.match(checkChange(ms, { op: "add", id: 1, addr: "a" })!, /already a member/);
  assert.match(checkChange(ms, { op: "add", id: 2, addr: "" })!, /address/);
  assert.match(checkChange(ms, { op: "remove", id: 2 })!, /not a member/);
  assert.match(checkChange([{ id: 1, addr: "a" }], { op: "remove", id: 1 })!, /last member/);
  assert.match(checkChange(ms, { op: "add", id: -1, addr: "x" })!, /bad node id/);
  assert.equal(checkChange(ms, { op: "remove", id: 3 }), null);
});

test("unionIds and withoutIds", () => {
  assert.deepEqual(unionIds([ms, [{ id: 2, addr: "b" }, { id: 3, addr: "c" }]]), [1, 2, 3]);
  assert.deepEqual(memberIds(withoutIds(ms, [3, 7])), [1]);
});
