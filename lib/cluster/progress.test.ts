import { test } from "node:test";
import assert from "node:assert/strict";
import { Progress } from "./progress.ts";

test("probe sends one message at a time, then switches to pipelined replication", () => {
  const p = new Progress(10, 0);
  assert.equal(p.next, 11);
  assert.ok(p.canSend(2));
  p.sent(10);
  assert.ok(!p.canSend(2));
  assert.ok(p.ack(10));
  assert.equal(p.state, "replicate");
  p.sent(12);
  p.sent(14);
  assert.ok(!p.canSend(2));
  assert.equal(p.next, 15);
  p.ack(12);
  assert.deepEqual(p.inflight, [14]);
  assert.ok(p.canSend(2));
  assert.equal(p.ack(11), false);
});

test("a rejection walks next back to the follower's log, stale ones are ignored", () => {
  const p = new Progress(20, 0);
  p.sent(20);
  assert.equal(p.reject(19, 5), false); // not the probe we sent
  assert.ok(p.reject(20, 5));
  assert.equal(p.next, 6);
  p.ack(8);
  p.sent(9);
  assert.equal(p.reject(7, 3), false); // at or below match: stale
  assert.ok(p.reject(12, 3));
  assert.equal(p.state, "probe");
  assert.equal(p.next, 9);
});

test("snapshot state waits for an answer covering the snapshot", () => {
  const p = new Progress(5, 0);
  p.toSnapshot(40, 3);
  assert.ok(!p.canSend(4));
  assert.equal(p.reject(5, 0), false);
  p.ack(40);
  assert.equal(p.state, "probe");
  assert.equal(p.next, 41);
});

test("a snapshot not above match (the bootstrap one, index 0) ends the snapshot state once acknowledged", () => {
  const p = new Progress(7, 0);
  p.toSnapshot(0, 3);
  assert.equal(p.ack(0), false, "match does not move");
  assert.equal(p.state, "probe");
  assert.equal(p.next, 1);
  assert.ok(p.canSend(4));
});
