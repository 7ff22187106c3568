/**
 * The driver's answers when a node stops or fails with writes in flight: a
 * definite failure only where the entry was never appended, "unknown" where
 * it may still commit on the other nodes. Two real drivers over an
 * in-process network, whose links a test can cut.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Driver, type Outcome } from "./driver.ts";
import { RaftNode } from "./node.ts";
import { bootstrapState, MemoryStorage } from "./storage.ts";
import type { Entry, Message, Persist, Snapshot } from "./types.ts";

type Cmd = string;

/** The application: a list of applied commands. */
class ListApp {
  readonly applied: Cmd[] = [];
  apply(entries: readonly Entry<Cmd>[]): Promise<Map<number, Error>> {
    for (const e of entries) if (e.type === "cmd") this.applied.push(e.cmd);
    return Promise.resolve(new Map());
  }
  restore(_s: Snapshot): Promise<void> {
    return Promise.resolve();
  }
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
}

/** Memory storage whose writes can be made to fail. */
class FlakyStorage extends MemoryStorage<Cmd> {
  failWith: Error | undefined;
  override write(p: Persist<Cmd>): void {
    if (this.failWith) throw this.failWith;
    super.write(p);
  }
}

interface Pair {
  readonly drivers: Driver<Cmd>[];
  readonly storages: FlakyStorage[];
  readonly apps: ListApp[];
  readonly fatal: unknown[];
  /** Links that drop every message, as "from>to". */
  readonly cut: Set<string>;
  readonly leader: Driver<Cmd>;
  readonly follower: Driver<Cmd>;
}

const members = [{ id: 1, addr: "n1" }, { id: 2, addr: "n2" }];

/** Two nodes, node 1 elected: only its clock runs, so node 2 never stands. `defer`: the server's group commit. */
async function pair(defer?: (run: () => void) => void): Promise<Pair> {
  const cut = new Set<string>();
  const fatal: unknown[] = [];
  const drivers: Driver<Cmd>[] = [];
  const storages = members.map(() => new FlakyStorage(bootstrapState<Cmd>(members, new Uint8Array())));
  const apps = members.map(() => new ListApp());
  const send = (messages: readonly Message<Cmd>[]) => {
    for (const m of messages) {
      if (cut.has(`${m.from}>${m.to}`)) continue;
      setTimeout(() => drivers[m.to - 1].step(m), 1);
    }
  };
  for (const [i, m] of members.entries()) {
    const raft = new RaftNode<Cmd>({ id: m.id, cluster: "t", random: () => 0, electionTicks: 2, activeTicks: 100_000, proposalTicks: 100_000 }, storages[i].load());
    drivers.push(new Driver(raft, storages[i], apps[i], send, (err) => fatal.push(err), { defer }));
  }
  drivers[0].start(5);
  const deadline = Date.now() + 20_000;
  while (!(drivers[0].status().role === "leader" && drivers[0].status().writable)) {
    if (Date.now() > deadline) throw new Error("no writable leader");
    await drivers[0].changed(20);
  }
  return { drivers, storages, apps, fatal, cut, leader: drivers[0], follower: drivers[1] };
}

/** Runs `fn` on a fresh pair and stops both nodes whatever happens. */
async function withPair(fn: (p: Pair) => Promise<void>, defer?: (run: () => void) => void): Promise<void> {
  const p = await pair(defer);
  try {
    await fn(p);
  } finally {
    for (const d of p.drivers) await d.stop();
  }
}

/** Proposes on the leader once its acks are cut, and waits until the follower holds the entry (wrapped: an async function would await the outcome). */
async function inFlight(p: Pair, cmd: Cmd): Promise<{ outcome: Promise<Outcome> }> {
  p.cut.add("2>1");
  const outcome = p.leader.propose(cmd);
  const deadline = Date.now() + 20_000;
  while (!p.follower.pending().some((e) => e.type === "cmd" && e.cmd === cmd)) {
    if (Date.now() > deadline) throw new Error("the follower never got the entry");
    await p.follower.changed(20);
  }
  return { outcome };
}

test("a write acknowledged by every node resolves ok", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    assert.deepEqual(await p.leader.propose("a"), { ok: true, index: 2, error: undefined });
  });
});

test("stopping with a write in flight answers 'unknown', not a definite failure: the entry sits on the follower and may commit", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { outcome } = await inFlight(p, "w");
    await p.leader.stop();
    const o = await outcome;
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.error, "unknown");
    // Proposals after the stop never reach the log: those failures are definite.
    const late = await p.leader.propose("late");
    assert.deepEqual(late.ok === false && [late.error, late.reason], ["unavailable", "the node has stopped"]);
  });
});

test("an own write that commits but is covered by a snapshot before it is applied answers 'unknown', not ok: its result is not known here", { timeout: 60_000 }, async () => {
  // The server's group commit: everything stepped in one turn shares one Ready.
  await withPair(async (p) => {
    const { outcome } = await inFlight(p, "w");
    const index = p.follower.pending().find((e) => e.type === "cmd" && e.cmd === "w")!.index;
    const term = p.leader.status().term;
    // In one turn: the ack that commits the entry, then a newer leader's snapshot beyond it (the old leader's log ends at it).
    p.leader.step({ type: "appendResp", cluster: "t", from: 2, to: 1, term, success: true, index, hint: index, aborted: null });
    p.leader.step({
      type: "snapshot", cluster: "t", from: 2, to: 1, term: term + 1,
      snapshot: { index: index + 1, term: term + 1, members, data: new Uint8Array() },
    });
    const o = await outcome;
    assert.equal(o.ok, false, "ok would claim a result this node never computed");
    assert.equal(!o.ok && o.error, "unknown");
    assert.match(!o.ok ? o.reason : "", new RegExp(`entry ${index} committed, but this node installed a snapshot`));
    assert.deepEqual(p.apps[0].applied, [], "the entry was never applied on the old leader");
  }, setImmediate);
});

test("a graceful stop refuses new writes at once and lets the one in flight finish", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { outcome } = await inFlight(p, "w");
    const draining = p.leader.drain(5_000);
    const refused = await p.leader.propose("new");
    assert.deepEqual(refused.ok === false && [refused.error, refused.reason], ["unavailable", "the node is stopping"]);
    assert.ok(!p.storages[0].load().entries.some((e) => e.type === "cmd" && e.cmd === "new"), "never appended");
    p.cut.clear();
    assert.deepEqual(await outcome, { ok: true, index: 2, error: undefined });
    assert.equal(await draining, true);
    await p.leader.stop();
    assert.deepEqual(p.apps[0].applied, ["w"]);
  });
});

test("a graceful stop whose write cannot finish in time answers it 'unknown' after the bound", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { outcome } = await inFlight(p, "w");
    const t0 = performance.now();
    assert.equal(await p.leader.drain(50), false);
    assert.ok(performance.now() - t0 < 2_000, "the drain is bounded");
    await p.leader.stop();
    const o = await outcome;
    assert.equal(!o.ok && o.error, "unknown");
  });
});

test("a failing disk stops the node: the write in flight is 'unknown', onFatal hears of it, nothing more runs", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { outcome } = await inFlight(p, "w");
    const disk = new Error("disk on fire");
    p.storages[0].failWith = disk;
    const next = p.leader.propose("next"); // its Ready fails to persist: the node stops
    const [o, n] = await Promise.all([outcome, next]);
    assert.equal(!o.ok && o.error, "unknown");
    assert.equal(!n.ok && n.error, "unknown", "appended in memory, never durable: reported as unknown all the same");
    assert.deepEqual(p.fatal, [disk]);
    assert.equal(p.leader.stopped, true);
    const late = await p.leader.propose("late");
    assert.equal(!late.ok && late.error, "unavailable");
  });
});
