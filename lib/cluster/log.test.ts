import { test } from "node:test";
import assert from "node:assert/strict";
import { RaftLog } from "./log.ts";
import type { Entry } from "./types.ts";

const cmd = (index: number, term: number): Entry<string> => ({ index, term, type: "cmd", cmd: `c${index}` });

test("append, term, slice and what is unstable", () => {
  const log = new RaftLog<string>(0, 0, [cmd(1, 1), cmd(2, 1)]);
  assert.equal(log.lastIndex, 2);
  assert.equal(log.stable, 2);
  assert.equal(log.hasUnstable(), false);
  log.append([cmd(3, 2), { index: 4, term: 2, type: "conf", change: { op: "remove", id: 3 } }]);
  assert.equal(log.term(0), 0);
  assert.equal(log.term(3), 2);
  assert.equal(log.term(5), undefined);
  assert.deepEqual(log.slice(2, 4).map((e) => e.index), [2, 3]);
  assert.deepEqual(log.confs.map((c) => c.index), [4]);
  assert.deepEqual(log.unstable(), { truncateFrom: null, entries: log.slice(3, 5) });
  assert.throws(() => log.append([cmd(9, 2)]), /expected 5/);
  log.markStable(4);
  assert.equal(log.hasUnstable(), false);
});

test("truncating durable entries is reported once, then forgotten", () => {
  const log = new RaftLog<string>(0, 0, [cmd(1, 1), cmd(2, 1), { index: 3, term: 1, type: "conf", change: { op: "add", id: 4, addr: "d" } }]);
  log.truncateFrom(3);
  assert.equal(log.lastIndex, 2);
  assert.equal(log.confs.length, 0);
  log.append([cmd(3, 2)]);
  assert.deepEqual(log.unstable(), { truncateFrom: 3, entries: [cmd(3, 2)] });
  log.markStable(3);
  assert.deepEqual(log.unstable(), { truncateFrom: null, entries: [] });
  assert.throws(() => log.truncateFrom(0), /inside the snapshot/);
});

test("compaction keeps later entries; restore drops everything", () => {
  const log = new RaftLog<string>(0, 0, [cmd(1, 1), cmd(2, 2), cmd(3, 2)]);
  log.compact(2);
  assert.equal(log.snapIndex, 2);
  assert.equal(log.term(2), 2);
  assert.equal(log.term(1), undefined);
  assert.equal(log.entry(3)?.index, 3);
  log.append([cmd(4, 3)]);
  assert.throws(() => log.compact(4), /beyond durable/);
  log.restore(10, 5);
  assert.equal(log.lastIndex, 10);
  assert.equal(log.lastTerm, 5);
  assert.deepEqual(log.unstable(), { truncateFrom: 11, entries: [] });
});

test("isUpToDate compares last term, then last index", () => {
  const log = new RaftLog<string>(0, 0, [cmd(1, 1), cmd(2, 3)]);
  assert.ok(log.isUpToDate(2, 3));
  assert.ok(log.isUpToDate(1, 4));
  assert.ok(!log.isUpToDate(1, 3));
  assert.ok(!log.isUpToDate(9, 2));
});
