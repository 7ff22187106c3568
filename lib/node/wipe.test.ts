/** The Wiper: material given up is zeroed at once, or once the readers that began before are done, never held by later ones. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Wiper } from "./wipe.ts";

const bytes = () => new Uint8Array(8).fill(7);
const zeroed = (a: Uint8Array) => a.every((b) => b === 0);

test("with no reader, arrays are zeroed at once", () => {
  const a = bytes();
  new Wiper().wipe([a]);
  assert.ok(zeroed(a));
});

test("a reader that began before the wipe keeps the arrays until it is done (released twice: once)", () => {
  const w = new Wiper();
  const a = bytes();
  const release = w.hold();
  w.wipe([a]);
  assert.ok(!zeroed(a));
  release();
  assert.ok(zeroed(a));
  release();
});

test("readers that overlap without end do not keep material alive: only those that began before it count", () => {
  const w = new Wiper();
  const a = bytes(), b = bytes();
  let reader = w.hold();
  w.wipe([a]);
  // Each new reader begins before the last ends: there is always one, as under steady load.
  for (let i = 0; i < 3; i++) {
    const next = w.hold();
    reader();
    reader = next;
    assert.ok(zeroed(a), `round ${i}: zeroed once the readers that began before it ended`);
  }
  w.wipe([b]);
  assert.ok(!zeroed(b), "the reader now running began before b was given up");
  const late = w.hold();
  reader();
  assert.ok(zeroed(b), "a reader that began after the wipe does not delay it");
  late();
});

test("arrays of several wipes wait for their own readers, in order", () => {
  const w = new Wiper();
  const a = bytes(), b = bytes();
  const first = w.hold();
  w.wipe([a]);
  const second = w.hold();
  w.wipe([b]);
  second();
  assert.ok(!zeroed(a) && !zeroed(b), "the first reader may still hold both");
  first();
  assert.ok(zeroed(a) && zeroed(b));
});
