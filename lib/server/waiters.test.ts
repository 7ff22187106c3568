/** Waiters: a condition checked at once and at every wake, a deadline, and a broken state that rejects. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Waiters } from "./waiters.ts";

test("resolves true at once when the condition holds, and at the wake after it comes to hold", async () => {
  const w = new Waiters();
  let n = 0;
  assert.equal(await w.until(() => true, 10), true);
  const waiting = w.until(() => n >= 2, 60_000);
  n = 1;
  w.wake();
  n = 2;
  w.wake();
  assert.equal(await waiting, true);
});

test("resolves false at the deadline; a later wake changes nothing", async () => {
  const w = new Waiters();
  assert.equal(await w.until(() => false, 5), false);
  w.wake();
});

test("rejects with the broken state's error unless the condition holds", async () => {
  const w = new Waiters();
  let failed: Error | undefined;
  let done = false;
  const waiting = w.until(() => done, 60_000, () => failed);
  failed = new Error("a thread failed");
  w.wake();
  await assert.rejects(waiting, /a thread failed/);
  done = true;
  assert.equal(await w.until(() => done, 10, () => failed), true, "what holds is answered even when broken");
  done = false;
  await assert.rejects(w.until(() => done, 60_000, () => failed), /a thread failed/);
});
