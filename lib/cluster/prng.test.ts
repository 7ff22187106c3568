import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "./prng.ts";

test("a seed always gives the same sequence; different seeds differ", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(Array.from({ length: 5 }, () => b.next()), xs);
  assert.notDeepEqual(Array.from({ length: 5 }, () => new Prng(43).next()), xs);
});

test("int stays in range and covers it", () => {
  const r = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const x = r.int(6);
    assert.ok(x >= 0 && x < 6 && Number.isInteger(x));
    seen.add(x);
  }
  assert.equal(seen.size, 6);
});
