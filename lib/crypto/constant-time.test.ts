import { test } from "node:test";
import assert from "node:assert/strict";
import { equal } from "./constant-time.ts";

test("equal: same content is equal, any difference is not", () => {
  const a = new Uint8Array([1, 2, 3, 4]);
  assert.equal(equal(a, new Uint8Array([1, 2, 3, 4])), true);
  for (let i = 0; i < a.length; i++) {
    const b = a.slice();
    b[i] ^= 1;
    assert.equal(equal(a, b), false);
  }
  assert.equal(equal(new Uint8Array(0), new Uint8Array(0)), true);
});

test("equal: length mismatch is false, not an exception", () => {
  assert.equal(equal(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
  assert.equal(equal(new Uint8Array(0), new Uint8Array([0])), false);
});
