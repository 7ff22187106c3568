import { test } from "node:test";
import assert from "node:assert/strict";
import { EMPTY_HARD } from "../cluster/storage.ts";
import { NONE } from "../cluster/types.ts";
import { judge } from "./peer-check.ts";

const hard = { ...EMPTY_HARD, term: 4, vote: 2, commit: 10 };

test("a node that holds every index its peers committed is not behind, whatever their terms", () => {
  assert.equal(judge(1, 12, hard, []), null, "no answer tells nothing");
  assert.equal(judge(1, 12, hard, [{ term: 9, commit: 12 }, { term: 4, commit: 11 }]), null);
});

test("a peer's commit past this node's log means acknowledged entries were lost: reads wait, no vote in the peers' term", () => {
  const behind = judge(1, 8, hard, [{ term: 6, commit: 7 }, { term: 7, commit: 12 }]);
  assert.ok(behind);
  assert.equal(behind.floor, 12);
  assert.deepEqual(behind.hard, { ...hard, term: 7, vote: 1 });
  assert.match(behind.message, /log ends at index 8, but its peers have committed index 12/);
});

test("behind at a term no peer has passed: it keeps its term and withholds its vote there", () => {
  const behind = judge(3, 2, { ...hard, vote: NONE }, [{ term: 3, commit: 5 }]);
  assert.deepEqual(behind?.hard, { ...hard, term: 4, vote: 3 });
});
