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

test("prune drops markers the commit index has passed or whose term a committed entry outranks, keeps the array when nothing changes", () => {
  const ms = [{ term: 2, index: 5 }, { term: 3, index: 9 }];
  assert.deepEqual(prune(ms, { index: 5, term: 2 }), [{ term: 3, index: 9 }]);
  assert.equal(prune(ms, { index: 4, term: 2 }), ms);
  // An entry of term 3 committed at 4: no log holding term-2 entries beyond 4 can ever match the committed prefix.
  assert.deepEqual(prune(ms, { index: 4, term: 3 }), [{ term: 3, index: 9 }]);
  assert.deepEqual(prune(ms, { index: 4, term: 4 }), []);
});

test("merge keeps one marker per term (the lowest index), skips obsolete ones, respects the limit", () => {
  const mine = [{ term: 2, index: 8 }];
  const none = { index: 0, term: 0 };
  assert.deepEqual(merge(mine, [{ term: 2, index: 6 }], none, 8), [{ term: 2, index: 6 }]);
  assert.equal(merge(mine, [{ term: 2, index: 9 }], none, 8), mine);
  assert.equal(merge(mine, [{ term: 3, index: 4 }], { index: 4, term: 1 }, 8), mine);
  assert.equal(merge(mine, [{ term: 3, index: 9 }], { index: 4, term: 4 }, 8), mine);
  assert.deepEqual(merge(mine, [{ term: 3, index: 9 }], none, 8), [{ term: 2, index: 8 }, { term: 3, index: 9 }]);
  assert.equal(merge(mine, [{ term: 3, index: 9 }], none, 1), mine);
});
