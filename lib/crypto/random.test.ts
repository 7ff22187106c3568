import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "./random.ts";

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("randomBytes returns exactly n bytes for 0..100 and 70000", () => {
  for (let n = 0; n <= 100; n++) {
    const b = randomBytes(n);
    assert.equal(b.length, n);
    assert.ok(b instanceof Uint8Array);
  }
  assert.equal(randomBytes(70000).length, 70000);
});

test("randomBytes: consecutive outputs differ", () => {
  const seen = new Set<string>();
  // Enough draws to cross several pool refills.
  for (let i = 0; i < 10000; i++) seen.add(toHex(randomBytes(16)));
  assert.equal(seen.size, 10000);
  assert.notEqual(toHex(randomBytes(70000)), toHex(randomBytes(70000)));
});

test("randomBytes: output is not all zero and is owned by the caller", () => {
  const a = randomBytes(32);
  assert.ok(a.some((x) => x !== 0));
  // A fresh buffer, not a view of the shared pool.
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, 32);
  const copy = a.slice();
  randomBytes(1000);
  assert.deepEqual(a, copy);
});

test("randomBytes: roughly uniform bytes", () => {
  const b = randomBytes(65536);
  const counts = new Array(256).fill(0);
  for (const x of b) counts[x]++;
  // Expected 256 per value; 5 sigma is about ±80.
  for (const c of counts) assert.ok(c > 150 && c < 360, `byte count ${c} out of range`);
});

test("randomBytes rejects negative and fractional lengths", () => {
  assert.throws(() => randomBytes(-1), RangeError);
  assert.throws(() => randomBytes(1.5), RangeError);
});
