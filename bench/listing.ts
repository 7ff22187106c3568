/**
 * Listing pages in process: a page of 1,000 names at the first, middle and
 * last offset of N names (20 characters, inserted in random order), from a
 * plain Map (sorted per request, as frozen copies still are) and from the
 * SortedMap the state keeps, and from the KeyRings of a server's start (names
 * in the record slab, name-table.ts); the first listing after the inserts pays
 * one sort of every name. Run: bun bench/listing.ts [names]
 */
import { KeyRings } from "../lib/state/key-rings.ts";
import { COMPACT } from "../lib/state/ring-codec.ts";
import { SortedMap } from "../lib/state/sorted-map.ts";
import type { KeyRing } from "../lib/state/types.ts";
import { page } from "../lib/state/state.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const name = (i: number) => `key-${String(i).padStart(16, "0")}`;
const plain = new Map<string, number>();
const sorted = new SortedMap<number>();
const order = Array.from({ length: n }, (_, i) => i);
for (let i = n - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const rings = new KeyRings();
const record = new Uint8Array([COMPACT]);
const parse = (n: string) => ({ name: n }) as unknown as KeyRing; // the listing's cost, not a ring's
for (const i of order) {
  plain.set(name(i), i);
  sorted.set(name(i), i);
  rings.addRecord(name(i), record, false, parse);
}

/** Mean milliseconds of `reps` calls. */
function time(f: () => unknown, reps: number): number {
  const t = performance.now();
  for (let r = 0; r < reps; r++) f();
  return (performance.now() - t) / reps;
}

const fold = time(() => page(sorted, "", "", 1), 1);
const sort = time(() => page(rings, "", "", 1), 1);
console.log(`${n.toLocaleString("en")} names; first listing after the inserts (one sort): SortedMap ${fold.toFixed(0)} ms, KeyRings ${sort.toFixed(0)} ms`);
for (const [where, offset] of [["first", 0], ["middle", Math.floor(n / 2)], ["last", Math.max(0, n - 1000)]] as const) {
  const at = name(offset);
  const before = time(() => page(plain, "", at, 1000), 2);
  const after = time(() => page(sorted, "", at, 1000), 100);
  const read = time(() => page(rings, "", at, 1000), 100);
  console.log(`${where} page: plain Map ${before.toFixed(1)} ms, SortedMap ${after.toFixed(3)} ms (${(before / after).toFixed(0)}× faster), KeyRings ${read.toFixed(3)} ms`);
}
