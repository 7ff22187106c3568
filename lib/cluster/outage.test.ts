/**
 * The leader dies (or stops) with a write in flight: scripted scenarios on
 * the simulator's harness, each also run against the old behaviour to show
 * that the checks catch it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "./prng.ts";
import { InvariantError } from "./sim/checker.ts";
import { quietParams, SimCluster, type SimNode } from "./sim/cluster.ts";
import { expectBound, leaderOutage } from "./sim/outage.ts";

/** A quiet cluster of `n` nodes with an elected, writable leader and one acknowledged write per key. */
function cluster(n: number): SimCluster {
  const sim = new SimCluster(new Prng(7), quietParams(n));
  sim.until(() => !!sim.leader()?.raft!.writable(), 200, "writable");
  for (const k of ["a", "b", "c"]) {
    const op = sim.write(sim.leader()!, k);
    sim.until(() => sim.acks.has(op), 50, `write to ${k} acknowledged`);
  }
  sim.until(() => sim.unsettled() === null, 100, "settled");
  return sim;
}

/** True if `n` holds the write `op` and has not applied it. */
const holds = (n: SimNode, op: number) => n.raft!.pending().some((e) => e.type === "cmd" && e.cmd.op === op);

/** Writes `key` on the leader and steps until every follower holds it, without letting it commit (acks are cut). */
function inFlightEverywhere(sim: SimCluster, key: string): { leader: SimNode; op: number } {
  const leader = sim.leader()!;
  sim.net.cutOneWay([...sim.nodes.keys()], leader.id, "in");
  const op = sim.write(leader, key);
  sim.until(() => sim.live().every((n) => holds(n, op)), 20, "every node holds the write");
  return { leader, op };
}

for (const size of [3, 5]) {
  test(`${size} nodes, leader dead with a write in flight: every survivor reads every other key at the first try; the old per-enclave rule kept them waiting`, () => {
    const sim = cluster(size);
    const r = leaderOutage(sim, "b", 1, 80);
    assert.ok(r, "the outage ran");
    assert.equal(r.settled + r.unsettled, size - 1);

    const old = cluster(size);
    old.readRule = "enclave";
    assert.throws(() => leaderOutage(old, "b", 1, 80), (e) => e instanceof InvariantError && /read of untouched key a .* was blocked/.test(e.message));
  });
}

test("survivors that all hold the dead leader's write cannot settle it: reads of its key wait, and every survivor says why within the bound", () => {
  const sim = cluster(3);
  const { leader, op } = inFlightEverywhere(sim, "b");
  sim.crash(leader);
  sim.net.heal();
  const survivors = sim.live();
  const why = new Map<number, string>();
  for (let s = 0; s < 2 * expectBound(sim) && why.size < survivors.length; s++) {
    sim.step({ faults: false, writes: false });
    for (const n of survivors) {
      const w = n.raft!.unsettled();
      if (w && holds(n, op)) why.set(n.id, w);
    }
  }
  assert.equal(why.size, survivors.length, "every survivor knows it cannot settle the write");
  for (const w of why.values()) assert.match(w, new RegExp(`node ${leader.id} is unreachable|there is no leader|node ${leader.id}\\) is not answering`));
  sim.until(() => survivors.every((n) => n.raft!.unsettled() === `node ${leader.id} is unreachable`), 60, "a new leader names the dead node");
  for (const n of survivors) assert.equal(sim.read(n, "b"), "blocked");
  // Once the leader is back, the write commits (every member holds it): its client never got an answer.
  sim.restart(leader);
  sim.until(() => sim.unsettled() === null, 300, "settled");
  for (const n of sim.live()) assert.equal(n.app.read("b").op, op);
  assert.ok(!sim.fails.has(op));
});

test("survivors settle a write one of them never received: it is dropped for good and reads of its key go on", () => {
  const sim = cluster(3);
  const leader = sim.leader()!;
  const [got, lacks] = sim.live().filter((n) => n !== leader);
  sim.isolate(lacks.id);
  const op = sim.write(leader, "b");
  sim.until(() => holds(got, op), 20, "one follower holds the write");
  sim.crash(leader);
  sim.net.heal();
  assert.ok(!holds(lacks, op));
  sim.until(() => !holds(got, op) && !!sim.leader(), 100, "the survivors dropped the write");
  const l2 = sim.leader()!;
  assert.ok(l2.raft!.status().term > 0);
  for (const n of [got, lacks]) {
    assert.equal(sim.read(n, "b"), "served");
    assert.notEqual(n.app.read("b").op, op);
  }
  // The old leader comes back holding it: the survivors' abort marker makes it drop it.
  assert.ok(leader.storage.load().entries.some((e) => e.type === "cmd" && e.cmd.op === op));
  sim.restart(leader);
  sim.until(() => sim.unsettled() === null, 300, "settled");
  assert.ok(!holds(leader, op));
  assert.ok(!sim.checker.history.some((h) => h.endsWith(`:w${op}`)), "the write is in no history");
  const w = sim.write(sim.leader()!, "b");
  sim.until(() => sim.acks.has(w), 50, "a new write to the key");
});

test("a stopping leader answers its waiting writers 'unknown': telling them 'failed' (as the driver did) is caught when the write commits", () => {
  for (const answer of ["unknown", "failed"] as const) {
    const sim = cluster(3);
    const { leader, op } = inFlightEverywhere(sim, "b");
    sim.stop(leader, answer);
    sim.net.heal();
    const run = () => {
      sim.until(() => !!sim.leader(), 100, "a new leader");
      sim.restart(leader);
      sim.until(() => sim.unsettled() === null, 300, "settled");
    };
    if (answer === "failed") {
      assert.throws(run, (e) => e instanceof InvariantError && new RegExp(`write ${op} committed at \\d+ after it was reported failed`).test(e.message));
    } else {
      run();
      assert.ok(sim.live().every((n) => n.app.read("b").op === op), "the write committed: 'failed' would have been a lie");
    }
  }
});
