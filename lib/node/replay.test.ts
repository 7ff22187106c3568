import { test } from "node:test";
import assert from "node:assert/strict";
import { ReplayGuard } from "./replay.ts";

test("a nonce is admitted once; again inside the window it is a replay", () => {
  const g = new ReplayGuard(60_000);
  assert.equal(g.admit("a", 1_000_000, 1_000_000), "ok");
  assert.equal(g.admit("a", 1_000_000, 1_000_500), "replayed");
  assert.equal(g.admit("b", 1_000_000, 1_000_500), "ok");
});

test("a call from outside the window (either side) is stale, whatever its nonce", () => {
  const g = new ReplayGuard(60_000);
  assert.equal(g.admit("old", 1_000_000, 1_060_001), "stale");
  assert.equal(g.admit("future", 1_060_001, 1_000_000), "stale");
  assert.equal(g.admit("nan", Number.NaN, 1_000_000), "stale");
  assert.equal(g.admit("edge", 1_000_000, 1_060_000), "ok");
});

test("nonces are forgotten once the window can no longer admit them: memory follows the call rate", () => {
  const g = new ReplayGuard(1_000);
  for (let t = 0; t < 100_000; t += 10) assert.equal(g.admit(`n${t}`, t, t), "ok");
  assert.ok(g.size <= 202, `remembered ${g.size}`);
  // A forgotten nonce cannot come back: its timestamp is stale by then.
  assert.equal(g.admit("n0", 0, 100_000), "stale");
});
