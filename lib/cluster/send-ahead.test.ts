/**
 * The two shortcuts of a replicated write (docs/performance.md, "Fourth
 * changes"): a leader sends its appends while its own log write is on disk
 * (Ready.sendFirst), and a follower's acknowledgements go back in its answer
 * to the leader's request (Driver.answer) rather than in messages of their
 * own. Two real drivers; each disk can be held so a write stays in flight.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Driver, type Outcome } from "./driver.ts";
import { RaftNode } from "./node.ts";
import { bootstrapState, MemoryStorage } from "./storage.ts";
import type { Entry, Message, Persist, Snapshot } from "./types.ts";

type Cmd = string;

const app = {
  apply: (_e: readonly Entry<Cmd>[]) => new Map<number, Error>(),
  restore: (_s: Snapshot) => {},
  snapshot: () => new Uint8Array(),
};

/** Memory storage whose writes of log entries wait, while `held`, until release(). */
class HeldStorage extends MemoryStorage<Cmd> {
  held = false;
  #waiting: Array<() => void> = [];
  /** The commands of the writes waiting for release(). */
  readonly waiting: Cmd[] = [];
  override write(p: Persist<Cmd>): void | Promise<void> {
    if (!this.held || p.entries.length === 0) return super.write(p);
    for (const e of p.entries) if (e.type === "cmd") this.waiting.push(e.cmd);
    return new Promise((resolve) => this.#waiting.push(() => resolve(super.write(p))));
  }
  release(): void {
    this.held = false;
    this.waiting.length = 0;
    for (const w of this.#waiting.splice(0)) w();
  }
}

const members = [{ id: 1, addr: "n1" }, { id: 2, addr: "n2" }];

/** Waits for `cond`, up to 20 s. */
async function until(cond: () => boolean, d: Driver<Cmd>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await d.changed(20);
  }
}

/**
 * Node 1 leads node 2. The leader's messages reach node 2 through answer()
 * (as the server's requests do) and its answers come back to the leader
 * (recorded in `answered` as they resolve); what node 2 sends on its own is
 * recorded in `ownSends`.
 */
interface Pair {
  readonly leader: Driver<Cmd>;
  readonly follower: Driver<Cmd>;
  readonly disks: HeldStorage[];
  readonly answered: Message<Cmd>[];
  readonly ownSends: Message<Cmd>[];
  /** Everything node 1 sends. */
  readonly leaderSends: Message<Cmd>[];
  /** How many of node 1's requests node 2 answered with nothing. */
  readonly replies: { empty: number };
}

/** `answerWaitMs`: how long a held answer waits (long by default, so a loaded machine cannot make these tests take the other path). */
async function withPair(fn: (p: Pair) => Promise<void>, answerWaitMs = 60_000): Promise<void> {
  const disks = members.map(() => new HeldStorage(bootstrapState<Cmd>(members, new Uint8Array())));
  const drivers: Driver<Cmd>[] = [];
  const ownSends: Message<Cmd>[] = [];
  const answered: Message<Cmd>[] = [];
  const leaderSends: Message<Cmd>[] = [];
  const replies = { empty: 0 };
  const send = (messages: readonly Message<Cmd>[]) => {
    for (const m of messages) {
      if (m.from === 2) ownSends.push(m);
      else leaderSends.push(m);
      setTimeout(() => {
        if (m.to === 1) return drivers[0].step(m);
        void drivers[1].answer(1, [m]).then((answers) => {
          if (!answers.length) replies.empty++;
          answered.push(...answers);
          for (const a of answers) drivers[0].step(a);
        });
      }, 1);
    }
  };
  for (const [i, m] of members.entries()) {
    const raft = new RaftNode<Cmd>({ id: m.id, cluster: "t", random: () => 0, electionTicks: 2, activeTicks: 100_000, proposalTicks: 100_000 }, disks[i].load());
    drivers.push(new Driver(raft, disks[i], app, send, () => {}, { defer: setImmediate, answerWaitMs }));
  }
  drivers[0].start(5);
  try {
    await until(() => drivers[0].status().role === "leader" && drivers[0].status().writable, drivers[0], "a writable leader");
    await fn({ leader: drivers[0], follower: drivers[1], disks, answered, ownSends, leaderSends, replies });
  } finally {
    for (const d of disks) d.release();
    for (const d of drivers) await d.stop();
  }
}

const holds = (d: Driver<Cmd>, cmd: Cmd) => d.pending().some((e) => e.type === "cmd" && e.cmd === cmd);

test("a leader's append leaves while its own log write is on disk, and commits only once that write is durable", { timeout: 60_000 }, async () => {
  await withPair(async ({ leader, follower, disks, answered }) => {
    disks[0].held = true;
    let outcome: Outcome | undefined;
    void leader.propose("w").then((o) => (outcome = o));
    await until(() => holds(follower, "w"), follower, "the follower holds the entry while the leader's write is held");
    const index = follower.pending().find((e) => e.type === "cmd" && e.cmd === "w")!.index;
    // The follower's acknowledgement is back; the leader's own copy is not durable yet.
    await until(() => answered.some((m) => m.type === "appendResp" && m.index >= index), follower, "the follower's acknowledgement");
    assert.deepEqual(disks[0].waiting, ["w"], "the leader's write is still held");
    assert.ok(leader.commitIndex() < index, "not committed while the leader's own copy is not durable");
    assert.equal(outcome, undefined);
    disks[0].release();
    await until(() => outcome !== undefined, leader, "the outcome");
    assert.deepEqual(outcome, { ok: true, index, error: undefined });
  });
});

/** Proposes "w" with the follower's disk held, and waits until the follower's write of it is held. */
async function proposeWithFollowerDiskHeld({ leader, follower, disks, ownSends }: Pair): Promise<{ outcome: Promise<Outcome>; index: number }> {
  ownSends.length = 0;
  disks[1].held = true;
  const outcome = leader.propose("w");
  await until(() => disks[1].waiting.includes("w"), follower, "the follower's write of the entry, held");
  return { outcome, index: follower.pending().find((e) => e.type === "cmd" && e.cmd === "w")!.index };
}

test("a follower's acknowledgement goes back in its answer, only once durable, and is never sent on its own", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { disks, answered, ownSends } = p;
    const { outcome, index } = await proposeWithFollowerDiskHeld(p);
    assert.ok(!answered.some((m) => m.type === "appendResp" && m.index >= index), "acknowledged before the entry was durable");
    disks[1].release();
    assert.equal((await outcome).ok, true);
    assert.ok(answered.some((m) => m.type === "appendResp" && m.success && m.index >= index), "the acknowledgement came back in an answer");
    assert.deepEqual(ownSends.filter((m) => m.type === "appendResp"), [], "no acknowledgement was sent on its own");
  });
});

test("news of a commit leaves after the write's proposer is answered: no write waits for it", { timeout: 60_000 }, async () => {
  await withPair(async ({ leader, leaderSends }) => {
    const newsOf = (index: number) => leaderSends.filter((m) => m.type === "append" && m.entries.length === 0 && m.commit >= index);
    const o = await leader.propose("w").then((o) => ({ ...o, newsWhenAnswered: o.ok ? newsOf(o.index).length : -1 }));
    assert.equal(o.ok, true);
    assert.equal(o.newsWhenAnswered, 0, "the commit news was sent before the proposer had its answer");
    await until(() => o.ok && newsOf(o.index).length > 0, leader, "the commit news");
  });
});

test("an answer held past its bound by a slow disk is given up: the peer's request returns and the acknowledgement leaves on its own", { timeout: 60_000 }, async () => {
  await withPair(async (p) => {
    const { follower, disks, ownSends, replies } = p;
    const { outcome, index } = await proposeWithFollowerDiskHeld(p);
    // The leader's request comes back while the disk is still held (a slow disk must not hold the peer's requests).
    const empty = replies.empty;
    await until(() => replies.empty > empty, follower, "a request answered while the follower's write is held");
    assert.deepEqual(disks[1].waiting, ["w"], "the follower's write is still held");
    disks[1].release();
    assert.equal((await outcome).ok, true);
    assert.ok(ownSends.some((m) => m.type === "appendResp" && m.success && m.index >= index), "the acknowledgement was sent on its own");
  }, 50);
});
