import { test } from "node:test";
import assert from "node:assert/strict";
import { SortedMap } from "./sorted-map.ts";
import { page } from "./state.ts";

/** Every name scan() yields from `from` on. */
function scanned(m: SortedMap<number>, from = ""): string[] {
  const out: string[] = [];
  m.scan(from, (n) => (out.push(n), true));
  return out;
}

test("SortedMap: deletes, re-adds and overwrites keep every present name exactly once, in order", () => {
  const m = new SortedMap<number>();
  for (const n of ["c", "a", "b"]) m.set(n, 1);
  assert.deepEqual(scanned(m), ["a", "b", "c"]);
  m.delete("b");
  m.set("a", 2); // an overwrite adds no name
  assert.deepEqual(scanned(m), ["a", "c"]);
  m.set("b", 3);
  m.delete("b");
  m.set("b", 4); // added, deleted, added again before any fold
  assert.deepEqual(scanned(m), ["a", "b", "c"]);
  assert.equal(m.get("b"), 4);
  assert.deepEqual(scanned(m, "b"), ["b", "c"]);
  assert.deepEqual(scanned(m, "bb"), ["c"]);
  assert.equal(m.delete("nope"), false);
  m.clear();
  assert.deepEqual(scanned(m), []);
  m.set("x", 1);
  assert.deepEqual(scanned(m), ["x"]);
});

test("SortedMap: random writes across many folds list what a sort of the map's names lists", () => {
  // A fixed-seed LCG: the same sequence on every run.
  let seed = 12;
  const rng = { int: (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n };
  const m = new SortedMap<number>();
  for (let round = 0; round < 6; round++) {
    // Enough changes per round to fold (more than 1,024 added or removed), then a few that stay pending.
    for (let i = 0; i < 2_500; i++) {
      const name = `k-${rng.int(4_000)}`;
      if (rng.int(3) === 0) m.delete(name);
      else m.set(name, i);
    }
    const expected = [...m.keys()].sort();
    assert.deepEqual(scanned(m), expected, `round ${round}`);
    const from = `k-${rng.int(4_000)}`;
    assert.deepEqual(scanned(m, from), expected.filter((n) => n >= from));
    // Paging with the SortedMap matches paging a plain Map of the same entries.
    const plain = new Map(m);
    for (const [prefix, at, limit] of [["", "", 1000], ["k-1", "", 7], ["k-2", from, 50], ["k-39", "k-395", 3]] as const) {
      assert.deepEqual(page(m, prefix, at, limit), page(plain, prefix, at, limit), `${prefix} ${at} ${limit}`);
    }
  }
});
