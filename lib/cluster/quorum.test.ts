import { test } from "node:test";
import assert from "node:assert/strict";
import { committedIndex, voteResult } from "./quorum.ts";

test("committedIndex: every voter must hold the entry (N of N)", () => {
  const match = new Map([[1, 7], [2, 9], [3, 5]]);
  assert.equal(committedIndex([1, 2, 3], (id) => match.get(id)!), 5);
  assert.equal(committedIndex([1, 2], (id) => match.get(id)!), 7);
  assert.equal(committedIndex([2], (id) => match.get(id)!), 9);
  assert.equal(committedIndex([], () => 3), 0);
});

test("voteResult: a simple majority wins, a blocked majority loses", () => {
  const v = (pairs: [number, boolean][]) => new Map(pairs);
  assert.equal(voteResult([1], v([[1, true]])), "won");
  assert.equal(voteResult([1, 2], v([[1, true]])), "pending");
  assert.equal(voteResult([1, 2], v([[1, true], [2, false]])), "lost");
  assert.equal(voteResult([1, 2, 3], v([[1, true], [3, true]])), "won");
  assert.equal(voteResult([1, 2, 3], v([[1, true], [2, false]])), "pending");
  assert.equal(voteResult([1, 2, 3], v([[2, false], [3, false]])), "lost");
  // Votes from non-voters do not count.
  assert.equal(voteResult([1, 2, 3], v([[1, true], [9, true]])), "pending");
});
