import { test } from "node:test";
import assert from "node:assert/strict";
import { deadBy, merge, prune } from "./markers.ts";

test("deadBy: entries of the marker's term at or after its index are dead", () => {
  const ms = [{ term: 4, index: 10 }];
  assert.deepEqual(deadBy(ms, 4, 10), { term: 4, index: 10 });
  assert.deepEqual(deadBy(ms, 4, 12), { term: 4, index: 10 });
  assert.equal(deadBy(ms, 4, 9), null);
  assert.equal(deadBy(ms, 5, 12), null);
});

test("prune drops markers the commit index has passed, keeps the array when nothing changes", () => {
  const ms = [{ term: 2, index: 5 }, { term: 3, index: 9 }];
  assert.deepEqual(prune(ms, 5), [{ term: 3, index: 9 }]);
  assert.equal(prune(ms, 4), ms);
});

test("merge keeps one marker per term (the lowest index), skips obsolete ones, respects the limit", () => {
  const mine = [{ term: 2, index: 8 }];
  assert.deepEqual(merge(mine, [{ term: 2, index: 6 }], 0, 8), [{ term: 2, index: 6 }]);
  assert.equal(merge(mine, [{ term: 2, index: 9 }], 0, 8), mine);
  assert.equal(merge(mine, [{ term: 3, index: 4 }], 4, 8), mine);
  assert.deepEqual(merge(mine, [{ term: 3, index: 9 }], 0, 8), [{ term: 2, index: 8 }, { term: 3, index: 9 }]);
  assert.equal(merge(mine, [{ term: 3, index: 9 }], 0, 1), mine);
});
