/**
 * Named scenarios for the known-hard cases, scripted on the simulator's
 * harness (same driver, same invariant checks after every step).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "./prng.ts";
import { quietParams, SimCluster, type SimNode } from "./sim/cluster.ts";

/** A quiet cluster of `n` nodes with an elected, writable leader. */
function cluster(n: number, seed = 1): SimCluster {
  const sim = new SimCluster(new Prng(seed), quietParams(n));
  sim.until(() => !!sim.leader()?.raft!.writable(), 200, "writable");
  return sim;
}

/** The node with the given id. */
const node = (sim: SimCluster, id: number): SimNode => sim.nodes.get(id)!;

/** Writes through the leader and waits for the acknowledgement; returns the op. */
function acked(sim: SimCluster, key: string): number {
  const op = sim.write(sim.leader()!, key);
  sim.until(() => sim.acks.has(op) || sim.fails.has(op), 100, `write ${op} resolved`);
  assert.ok(sim.acks.has(op), `write ${op} acknowledged`);
  return op;
}

/** A key's value (op) on a node, read the way clients read: null if refused or blocked. */
function readOp(sim: SimCluster, n: SimNode, key: string): number | null {
  const r = sim.read(n, key);
  if (r !== "served") {
    n.blocked = n.blocked.filter((b) => b.key !== key);
    return null;
  }
  return n.app.read(key).op;
}

test("leader crash mid-replication: no acknowledged write is lost, the cluster resumes once the leader is back", () => {
  const sim = cluster(3);
  const w1 = acked(sim, "a");
  const l = sim.leader()!;
  const w2 = sim.write(l, "b");
  // Let the entry reach at least one follower, then crash the leader before it can commit.
  sim.until(() => [...sim.nodes.values()].some((n) => n !== l && n.raft!.pending().some((e) => e.type === "cmd" && e.cmd.op === w2)), 20, "w2 replicated");
  sim.crash(l);
  // The two others elect a leader, which cannot accept writes: the crashed node is a member.
  sim.until(() => !!sim.leader(), 100, "a new leader");
  const l2 = sim.leader()!;
  assert.equal(l2.raft!.writable(), false);
  const refused = sim.write(l2, "c");
  assert.ok(sim.fails.has(refused), "a write without every member fails at once");
  // Reads keep working on the survivors; the acknowledged write is visible everywhere.
  for (const n of sim.live()) assert.equal(readOp(sim, n, "a"), w1);
  sim.restart(l);
  sim.until(() => sim.unsettled() === null, 300, "settled");
  acked(sim, "c");
  for (const n of sim.live()) assert.equal(readOp(sim, n, "a"), w1);
  // w2's client saw no answer (its leader crashed): it either committed or not, and the checker agrees everywhere.
  assert.ok(!sim.fails.has(w2));
});

test("follower partitioned during a write: the write fails fast and definitely, then writes succeed after healing", () => {
  const sim = cluster(3);
  const l = sim.leader()!;
  const f = [...sim.nodes.values()].find((n) => n !== l)!;
  const w = sim.write(l, "a");
  sim.isolate(f.id);
  const steps = sim.until(() => sim.fails.has(w) || sim.acks.has(w), 60, "write resolved");
  assert.ok(sim.fails.has(w), "the write failed");
  assert.ok(steps <= sim.p.proposalTicks + 5, `failed within the proposal deadline (${steps} steps)`);
  // While the follower is cut off, every write is refused at once.
  sim.until(() => !!sim.leader(), 100, "a leader");
  const w2 = sim.write(sim.leader()!, "b");
  assert.ok(sim.fails.has(w2));
  sim.net.heal();
  sim.until(() => !!sim.leader()?.raft!.writable(), 300, "writable after healing");
  const w3 = acked(sim, "a");
  sim.until(() => sim.unsettled() === null, 300, "settled");
  for (const n of sim.live()) assert.equal(readOp(sim, n, "a"), w3);
  assert.ok(!sim.checker.history.some((h) => h.endsWith(`:w${w}`)), "the failed write is in no history");
});

test("node join: a fresh node gets a snapshot of the whole state and serves reads once it is a member", () => {
  const sim = cluster(1);
  const ops = ["a", "b", "c"].map((k) => acked(sim, k));
  const n1 = node(sim, 1);
  n1.raft!.compact(n1.raft!.applied, n1.app.snapshot());
  const id = sim.addNode()!;
  assert.ok(id);
  const n2 = node(sim, id);
  assert.equal(n2.raft!.readable(), false, "not readable before it is in sync");
  sim.until(() => sim.confResults.length === 1, 100, "join resolved");
  assert.deepEqual(sim.confResults[0], { change: { op: "add", id, addr: `sim-${id}` }, ok: true });
  assert.equal(n2.restores, 1, "received a snapshot");
  sim.until(() => n2.raft!.readable(), 20, "joined node readable");
  assert.deepEqual(["a", "b", "c"].map((k) => readOp(sim, n2, k)), ops);
  // Writes now need the new member too.
  const w = acked(sim, "d");
  sim.until(() => n2.app.read("d").op === w, 10, "new member applied the write");
  const id3 = sim.addNode()!;
  sim.until(() => sim.confResults.length === 2, 100, "second join resolved");
  assert.ok(sim.confResults[1].ok);
  sim.until(() => sim.unsettled() === null, 100, "settled");
  assert.deepEqual(node(sim, id3).raft!.status().members.map((m) => m.id), [1, id, id3]);
});

test("node join without compaction: the bootstrap snapshot (index 0) is enough, the joiner gets every entry", () => {
  // The leader still holds its bootstrap snapshot (index 0) and its whole log: the joiner's ack of that
  // snapshot (index 0) must move the leader on to sending entries, not resend the snapshot until the join expires.
  const sim = cluster(1);
  const ops = ["a", "b", "c"].map((k) => acked(sim, k));
  const n1 = node(sim, 1);
  assert.equal(n1.raft!.snapshotIndex, 0, "no compaction: the leader still has its bootstrap snapshot");
  const id = sim.addNode()!;
  assert.ok(id);
  const n2 = node(sim, id);
  sim.until(() => sim.confResults.length === 1, 100, "join resolved");
  assert.deepEqual(sim.confResults[0], { change: { op: "add", id, addr: `sim-${id}` }, ok: true });
  sim.until(() => n2.raft!.readable() && n2.raft!.applied === n1.raft!.commit, 20, "joined node readable and in sync");
  assert.equal(n2.restores, 1, "loaded the bootstrap snapshot once, then took the entries");
  assert.equal(n2.raft!.snapshotIndex, 0);
  for (let i = 1; i <= n1.raft!.lastIndex; i++) assert.deepEqual(n2.raft!.entry(i), n1.raft!.entry(i), `entry ${i}`);
  assert.deepEqual(["a", "b", "c"].map((k) => readOp(sim, n2, k)), ops);
  const w = acked(sim, "d");
  sim.until(() => n2.app.read("d").op === w, 10, "new member applied the write");
  sim.until(() => sim.unsettled() === null, 100, "settled");
  assert.deepEqual(n2.raft!.status().members.map((m) => m.id), [1, id]);
});

test("node removal: the removed node stops serving and is no longer needed for writes; a leader may remove itself", () => {
  const sim = cluster(3);
  const l = sim.leader()!;
  const victim = [...sim.nodes.values()].find((n) => n !== l)!;
  assert.ok(sim.removeNode(victim.id));
  sim.until(() => sim.confResults.length === 1, 100, "removal resolved");
  assert.ok(sim.confResults[0].ok);
  sim.until(() => !victim.raft!.readable() && victim.raft!.applied >= l.raft!.commit, 50, "removed node knows");
  assert.equal(readOp(sim, victim, "a"), null, "a removed node refuses reads");
  sim.crash(victim);
  acked(sim, "a");
  // The leader removes itself: the other member takes over.
  assert.ok(sim.removeNode(l.id));
  sim.until(() => sim.confResults.length === 2, 100, "self-removal resolved");
  assert.ok(sim.confResults[1].ok);
  sim.until(() => !!sim.leader()?.raft!.writable(), 200, "the remaining node leads");
  assert.notEqual(sim.leader(), l);
  acked(sim, "b");
  assert.equal(l.raft!.readable(), false);
});

test("election with a stale node: a node missing entries cannot win, nor disturb the others", () => {
  const sim = cluster(5);
  const l = sim.leader()!;
  acked(sim, "a");
  const stale = [...sim.nodes.values()].find((n) => n !== l)!;
  sim.isolate(stale.id);
  sim.crash(l);
  // Three of five elect a leader; its no-op cannot commit (two members missing), so the stale node lacks it.
  sim.until(() => !!sim.leader(), 200, "a new leader");
  const l2 = sim.leader()!;
  assert.ok(l2.raft!.lastIndex > stale.raft!.lastIndex);
  for (let i = 0; i < 100; i++) sim.step({ faults: false, writes: false });
  assert.ok(stale.raft!.term < l2.raft!.term, "cut off, it wins no pre-vote, so its term stays put");
  sim.net.heal();
  const term = l2.raft!.term;
  for (let i = 0; i < 300; i++) {
    sim.step({ faults: false, writes: false });
    assert.notEqual(stale.raft!.role, "leader", "the stale node won an election");
  }
  assert.equal(sim.leader(), l2, "nobody disturbed the leader");
  assert.equal(l2.raft!.term, term);
  sim.restart(l);
  sim.until(() => sim.unsettled() === null, 300, "settled");
  acked(sim, "b");
});

test("lose all but one node: the survivor serves reads, refuses writes fast; a forced edit makes it writable again", () => {
  const sim = cluster(3);
  const ops = ["a", "b"].map((k) => acked(sim, k));
  sim.until(() => sim.unsettled() === null, 50, "settled");
  const [survivor, ...dead] = [...sim.nodes.values()];
  for (const d of dead) sim.crash(d);
  for (let i = 0; i < 50; i++) sim.step({ faults: false, writes: false });
  assert.ok(survivor.raft!.readable());
  assert.deepEqual(["a", "b"].map((k) => readOp(sim, survivor, k)), ops);
  const w = sim.write(survivor, "c");
  assert.ok(sim.fails.has(w), "no write without every member");
  survivor.raft!.forceEdit(dead.map((d) => d.id));
  sim.until(() => !!survivor.raft!.writable(), 50, "the survivor leads alone");
  const w2 = acked(sim, "c");
  assert.equal(readOp(sim, survivor, "c"), w2);
  assert.deepEqual(survivor.raft!.status().members.map((m) => m.id), [survivor.id]);
});

test("a forced edit that drops nobody changes nothing: an empty list is refused, non-members are a no-op, the leader keeps leading", () => {
  const sim = cluster(3);
  acked(sim, "a");
  sim.until(() => sim.unsettled() === null, 50, "settled");
  const l = sim.leader()!;
  const term = l.raft!.term;
  assert.throws(() => l.raft!.forceEdit([]), /name at least one node/);
  l.raft!.forceEdit([4242]);
  assert.equal(l.raft!.role, "leader");
  assert.equal(l.raft!.term, term);
  assert.equal(l.raft!.status().members.length, 3);
  acked(sim, "b");
});
