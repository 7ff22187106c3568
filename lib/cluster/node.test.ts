import { test } from "node:test";
import assert from "node:assert/strict";
import { RaftNode } from "./node.ts";
import { Prng } from "./prng.ts";
import { bootstrapState, freshState, MemoryStorage } from "./storage.ts";
import type { Durable, Entry, Members, Message, Ready, Resolution } from "./types.ts";

type Cmd = Uint8Array;
const enc = (s: string) => new TextEncoder().encode(s);

/** A tiny lossless driver: persist, send, apply, advance — enough to test the node API directly. */
class Net {
  readonly nodes = new Map<number, { raft: RaftNode<Cmd>; storage: MemoryStorage<Cmd>; applied: Entry<Cmd>[]; resolved: Resolution[] }>();
  queue: Message<Cmd>[] = [];
  readonly rng = new Prng(1);

  add(id: number, d: Durable<Cmd>): void {
    const storage = new MemoryStorage(d);
    this.nodes.set(id, { raft: this.#node(id, storage.load()), storage, applied: [], resolved: [] });
  }

  #node(id: number, d: Durable<Cmd>): RaftNode<Cmd> {
    return new RaftNode<Cmd>({ id, cluster: "c1", random: (n) => this.rng.int(n), electionTicks: 5 }, d);
  }

  restart(id: number): void {
    const n = this.nodes.get(id)!;
    n.raft = this.#node(id, n.storage.load());
    n.applied = [];
  }

  handle(id: number): Ready<Cmd>[] {
    const n = this.nodes.get(id)!;
    const out: Ready<Cmd>[] = [];
    while (n.raft.hasReady()) {
      const rd = n.raft.ready();
      out.push(rd);
      n.storage.write(rd.persist);
      this.queue.push(...rd.messages);
      n.applied.push(...rd.committed);
      n.resolved.push(...rd.resolved);
      n.raft.advance();
    }
    return out;
  }

  /** Delivers everything until quiet. */
  settle(): void {
    for (let i = 0; i < 1000; i++) {
      for (const id of this.nodes.keys()) this.handle(id);
      if (this.queue.length === 0) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) this.nodes.get(m.to)?.raft.step(m);
    }
    throw new Error("did not settle");
  }

  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const x of this.nodes.values()) x.raft.tick();
      this.settle();
    }
  }
}

const three: Members = [{ id: 1, addr: "a" }, { id: 2, addr: "b" }, { id: 3, addr: "c" }];

test("a new single-node cluster elects itself, commits its no-op and then a command", () => {
  const net = new Net();
  net.add(1, bootstrapState([{ id: 1, addr: "a" }], new Uint8Array()));
  const n = net.nodes.get(1)!;
  assert.equal(n.raft.readable(), true);
  assert.equal(n.raft.propose(enc("x")).ok, false);
  n.raft.campaign();
  assert.equal(n.raft.role, "leader");
  net.settle();
  assert.equal(n.raft.writable(), true);
  const r = n.raft.propose(enc("x"));
  assert.ok(r.ok);
  assert.equal(n.raft.pending().length, 1);
  net.settle();
  assert.deepEqual(n.resolved, [{ id: r.id, ok: true, index: 2 }]);
  assert.deepEqual(n.applied.map((e) => e.type), ["noop", "cmd"]);
  assert.equal(n.raft.pending().length, 0);
});

test("three nodes: one leader, a write is acknowledged only after every member holds it", () => {
  const net = new Net();
  for (const m of three) net.add(m.id, bootstrapState(three, new Uint8Array()));
  net.tickAll(12);
  const leaders = [...net.nodes.values()].filter((n) => n.raft.role === "leader");
  assert.equal(leaders.length, 1);
  const l = leaders[0];
  assert.ok(l.raft.writable());
  const r = l.raft.propose(enc("k=v"));
  assert.ok(r.ok);
  // Hand out the leader's Ready but deliver only to one follower: no ack yet.
  net.handle(l.raft.id);
  const follower = [...net.nodes.keys()].find((id) => id !== l.raft.id)!;
  const q = net.queue;
  net.queue = [];
  for (const m of q) if (m.to === follower) net.nodes.get(follower)!.raft.step(m);
  net.handle(follower);
  for (const m of net.queue) if (m.to === l.raft.id) l.raft.step(m);
  net.queue = [];
  net.handle(l.raft.id);
  assert.equal(l.resolved.length, 0, "not acknowledged while one member lacks the entry");
  assert.equal(net.nodes.get(follower)!.raft.pending().at(-1)?.type, "cmd");
  net.queue = [];
  net.tickAll(2);
  assert.equal(l.resolved.length, 1);
  assert.ok(l.resolved[0].ok);
  for (const n of net.nodes.values()) assert.ok(n.applied.some((e) => e.type === "cmd"));
});

test("messages leave only in the Ready that persists what they depend on", () => {
  const net = new Net();
  for (const m of three) net.add(m.id, bootstrapState(three, new Uint8Array()));
  const n = net.nodes.get(1)!.raft;
  n.campaign();
  // Pre-votes change no durable state: nothing to persist, messages for term 1.
  const pre = n.ready();
  assert.equal(pre.persist.hard, null);
  assert.deepEqual(pre.messages.map((m) => [m.type, m.term, m.type === "vote" && m.pre]), [["vote", 1, true], ["vote", 1, true]]);
  assert.throws(() => n.tick(), /between ready\(\) and advance\(\)/);
  n.advance();
  n.step({ type: "voteResp", cluster: "c1", from: 2, to: 1, term: 1, pre: true, granted: true });
  assert.equal(n.role, "candidate");
  // The real votes go out in the same Ready that persists term 1 and the vote for itself.
  const rd = n.ready();
  assert.equal(rd.persist.hard?.term, 1);
  assert.equal(rd.persist.hard?.vote, 1);
  assert.deepEqual(rd.messages.map((m) => [m.type, m.term, m.type === "vote" && m.pre]), [["vote", 1, false], ["vote", 1, false]]);
  n.advance();
  assert.equal(n.hasReady(), false);
});

test("messages of another cluster or for another node are dropped", () => {
  const net = new Net();
  for (const m of three) net.add(m.id, bootstrapState(three, new Uint8Array()));
  const n = net.nodes.get(2)!.raft;
  const vote = { type: "vote" as const, pre: false, from: 1, to: 2, term: 5, lastIndex: 0, lastTerm: 0, markers: [] };
  n.step({ ...vote, cluster: "other" });
  n.step({ ...vote, cluster: "c1", to: 3 });
  assert.equal(n.term, 0);
  assert.equal(n.hasReady(), false);
  n.step({ ...vote, cluster: "c1" });
  assert.equal(n.term, 5);
});

test("a vote for a candidate with a stale log is refused, even at a higher term; a pre-vote changes nothing", () => {
  const net = new Net();
  for (const m of three) net.add(m.id, bootstrapState(three, new Uint8Array()));
  net.tickAll(12);
  const l = [...net.nodes.values()].find((n) => n.raft.role === "leader")!;
  l.raft.propose(enc("a"));
  net.tickAll(2);
  const voter = [...net.nodes.values()].find((n) => n !== l)!.raft;
  const from = [1, 2, 3].find((id) => id !== voter.id)!;
  const base = { cluster: "c1", from, to: voter.id, lastIndex: 1, lastTerm: 1, markers: [] };
  const before = voter.term;
  voter.step({ ...base, type: "vote", pre: true, term: before + 7 });
  assert.equal(voter.term, before, "a pre-vote does not move the term");
  net.handle(voter.id);
  voter.step({ ...base, type: "vote", pre: false, term: before + 7 });
  assert.equal(voter.term, before + 7);
  const rd = net.handle(voter.id);
  const resp = rd.flatMap((r) => r.messages).find((m) => m.type === "voteResp" && !m.pre);
  assert.ok(resp && resp.type === "voteResp" && resp.granted === false);
  net.queue = [];
});

test("a restarted node keeps its log and term, and is readable at once (reads wait only on pending entries)", () => {
  const net = new Net();
  for (const m of three) net.add(m.id, bootstrapState(three, new Uint8Array()));
  net.tickAll(12);
  const l = [...net.nodes.values()].find((n) => n.raft.role === "leader")!;
  l.raft.propose(enc("a"));
  net.tickAll(3);
  const f = [...net.nodes.keys()].find((id) => id !== l.raft.id)!;
  const before = net.nodes.get(f)!.raft;
  net.restart(f);
  const after = net.nodes.get(f)!.raft;
  assert.equal(after.term, before.term);
  assert.equal(after.lastIndex, before.lastIndex);
  assert.equal(after.readable(), true);
  net.settle();
  assert.ok(after.pending().length <= before.lastIndex);
});

test("a fresh node ignores appends until a snapshot arrives, and is not readable until its add commits", () => {
  const fresh = new RaftNode<Cmd>({ id: 9, cluster: "c1", random: () => 0 }, freshState());
  assert.equal(fresh.readable(), false);
  fresh.step({ type: "append", cluster: "c1", from: 1, to: 9, term: 3, prevIndex: 0, prevTerm: 0, entries: [], commit: 0, markers: [], unreachable: [] });
  assert.equal(fresh.hasReady(), false);
  fresh.step({
    type: "snapshot", cluster: "c1", from: 1, to: 9, term: 3,
    snapshot: { index: 4, term: 2, members: three, data: enc("state") },
  });
  const rd = fresh.ready();
  assert.equal(rd.restore?.index, 4);
  assert.equal(rd.persist.snapshot?.index, 4);
  assert.equal(rd.messages[0].type, "appendResp");
  fresh.advance();
  assert.equal(fresh.applied, 4);
  assert.equal(fresh.readable(), false, "not a member yet");
});

test("options are validated up front", () => {
  const d = freshState<Cmd>();
  assert.throws(() => new RaftNode({ id: -1, cluster: "c", random: () => 0 }, d), /node id/);
  assert.throws(() => new RaftNode({ id: 1, cluster: "", random: () => 0 }, d), /cluster id/);
  assert.throws(() => new RaftNode({ id: 1, cluster: "c", random: () => 0, heartbeatTicks: 10 }, d), /heartbeatTicks/);
});
