/**
 * The leader: accepts proposals only while every member answers, replicates
 * them, commits an entry once every member (of the old and the new membership
 * while a change is pending) holds it durably, and gives up its uncommitted
 * proposals, definitely, when it cannot finish them in time.
 */
import { changePending, commitVoters } from "./config.ts";
import {
  advanceCommit, becomeFollower, commitPoint, configSource, type Core, fail, latest, send,
} from "./core.ts";
import { merge } from "./markers.ts";
import { checkChange, hasMember } from "./membership.ts";
import { Progress } from "./progress.ts";
import { committedIndex } from "./quorum.ts";
import { type AppendRespMsg, type ConfChange, NONE, type ProposeError, type ProposeResult } from "./types.ts";

/** Nodes whose acknowledgement the next commit needs. */
export function voters(c: Core<unknown>): number[] {
  return commitVoters(configSource(c), c.commit);
}

/** True if the leader heard from `pr` recently enough to count it as reachable. */
export function isActive(c: Core<unknown>, pr: Progress): boolean {
  return c.now - pr.lastHeard <= c.o.activeTicks;
}

/**
 * Voters this leader cannot reach: silent for activeTicks, counted from when
 * it took office at the earliest (a peer that has not voted gets that long to answer).
 */
export function unreachableVoters(c: Core<unknown>): number[] {
  const out: number[] = [];
  for (const id of voters(c)) {
    if (id === c.o.id) continue;
    const pr = c.progress.get(id);
    if (!pr || c.now - Math.max(pr.lastHeard, c.leaderSince) > c.o.activeTicks) out.push(id);
  }
  return out;
}

/** Why this node cannot accept a write right now, or null if it can. */
export function whyNotWritable(c: Core<unknown>): string | null {
  if (c.role !== "leader") return "not the leader";
  if (!hasMember(latest(c), c.o.id)) return "this node is leaving the cluster";
  for (const id of voters(c)) {
    if (id === c.o.id) continue;
    const pr = c.progress.get(id);
    if (!pr || !isActive(c, pr)) return `node ${id} is unreachable`;
  }
  if (c.commit < c.noopIndex) return "the new leader has not committed its first entry yet";
  if (c.markers.length * 2 >= c.o.maxMarkers) return "too many recently aborted writes";
  return null;
}

/** Becomes leader of the current term: track every peer, append the term's no-op. */
export function becomeLeader(c: Core<unknown>): void {
  c.role = "leader";
  c.leader = c.o.id;
  c.leaderSince = c.now;
  c.heartbeatElapsed = 0;
  c.progress = new Map();
  c.noopIndex = c.log.lastIndex + 1;
  syncProgress(c);
  for (const [id, granted] of c.votes) {
    const pr = c.progress.get(id);
    if (granted && pr) pr.lastHeard = c.now;
  }
  c.votes.clear();
  c.log.append([{ index: c.noopIndex, term: c.term, type: "noop" }]);
  c.needBroadcast = true;
}

/** Tracks exactly the peers the leader must feed: voters, a learner, recently removed nodes. */
function syncProgress(c: Core<unknown>): void {
  const want = new Set(voters(c));
  if (c.learner) want.add(c.learner.id);
  for (const id of c.leaving.keys()) want.add(id);
  want.delete(c.o.id);
  for (const id of want) if (!c.progress.has(id)) c.progress.set(id, new Progress(c.log.lastIndex, -Infinity));
  for (const id of c.progress.keys()) if (!want.has(id)) c.progress.delete(id);
}

/** Refuses a proposal up front (nothing was appended). */
function refuse(c: Core<unknown>, error: ProposeError, reason: string): ProposeResult {
  return { ok: false, error, reason, leader: c.role === "leader" ? c.o.id : c.leader };
}

/** Appends an own entry with a deadline, to be sent with the next Ready. */
function appendOwn<C>(c: Core<C>, body: { type: "cmd"; cmd: C } | { type: "conf"; change: ConfChange }, id: number): void {
  const index = c.log.lastIndex + 1;
  c.log.append([{ ...body, index, term: c.term }]);
  c.own.set(index, { id, term: c.term, deadline: c.now + c.o.proposalTicks });
  c.needBroadcast = true;
  if (body.type === "conf") syncProgress(c);
}

/** Accepts a command if every member is reachable; its outcome arrives in Ready.resolved. */
export function propose<C>(c: Core<C>, cmd: C): ProposeResult {
  if (c.role !== "leader") return refuse(c, "not-leader", "not the leader");
  const why = whyNotWritable(c);
  if (why) return refuse(c, "unavailable", why);
  if (c.own.size >= c.o.maxPendingProposals) return refuse(c, "busy", "too many writes in flight");
  const id = c.nextProposalId++;
  appendOwn(c, { type: "cmd", cmd }, id);
  return { ok: true, id };
}

/** Accepts a membership change; an added node first receives a snapshot and catches up. */
export function proposeChange(c: Core<unknown>, change: ConfChange): ProposeResult {
  if (c.role !== "leader") return refuse(c, "not-leader", "not the leader");
  const why = whyNotWritable(c);
  if (why) return refuse(c, "unavailable", why);
  if (c.learner || changePending(configSource(c), c.commit)) return refuse(c, "busy", "another membership change is in progress");
  const invalid = checkChange(latest(c), change);
  if (invalid) return refuse(c, "invalid", invalid);
  const id = c.nextProposalId++;
  if (change.op === "remove") {
    appendOwn(c, { type: "conf", change }, id);
    return { ok: true, id };
  }
  c.learner = { id: change.id, addr: change.addr, proposalId: id, deadline: c.now + c.o.joinTicks };
  syncProgress(c);
  sendSnapshot(c, change.id, c.progress.get(change.id)!);
  return { ok: true, id };
}

/** Sends the latest snapshot to a peer that needs the whole state. */
function sendSnapshot(c: Core<unknown>, id: number, pr: Progress): void {
  send(c, id, { type: "snapshot", snapshot: c.snapshot });
  pr.toSnapshot(c.snapshot.index, c.now);
}

/** Sends entries from pr.next (possibly none) with the commit index; falls back to a snapshot. */
function sendFrom(c: Core<unknown>, id: number, pr: Progress): void {
  const prevIndex = pr.next - 1;
  const prevTerm = c.log.term(prevIndex);
  if (prevTerm === undefined) return sendSnapshot(c, id, pr);
  const entries = c.log.slice(pr.next, pr.next + c.o.maxEntriesPerMsg);
  send(c, id, { type: "append", prevIndex, prevTerm, entries, commit: c.commit, markers: c.markers, unreachable: unreachableVoters(c) });
  pr.commitSent = c.commit;
  if (entries.length > 0 || pr.state === "probe") pr.sent(prevIndex + entries.length);
}

/** An empty append at the known match point: carries the commit index, always accepted. */
function sendCommit(c: Core<unknown>, id: number, pr: Progress): void {
  send(c, id, {
    type: "append", prevIndex: pr.match, prevTerm: c.log.term(pr.match) ?? 0, entries: [], commit: c.commit, markers: c.markers,
    unreachable: unreachableVoters(c),
  });
  pr.commitSent = c.commit;
}

/** Sends whatever `id` can take now: new entries, or else news of the commit index. */
function feed(c: Core<unknown>, id: number, pr: Progress): void {
  if (pr.state === "snapshot") return;
  if (pr.canSend(c.o.maxInflightMsgs) && (pr.next <= c.log.lastIndex || pr.state === "probe")) return sendFrom(c, id, pr);
  if (pr.state === "replicate" && pr.commitSent < c.commit && c.log.term(pr.match) !== undefined) sendCommit(c, id, pr);
}

/** Sends pending entries and commit news to every peer (once per Ready, to batch proposals). */
export function flush(c: Core<unknown>): void {
  if (c.role !== "leader") return;
  c.needBroadcast = false;
  for (const [id, pr] of c.progress) feed(c, id, pr);
}

/** Heartbeat to one peer: resend what seems lost, else prove the leader is alive. */
function heartbeat(c: Core<unknown>, id: number, pr: Progress): void {
  if (pr.state === "snapshot") {
    if (c.now - pr.snapshotSentAt >= c.o.snapshotRetryTicks) sendSnapshot(c, id, pr);
    return;
  }
  if (pr.state === "replicate" && pr.inflight.length > 0 && !pr.progressed) pr.toProbe();
  pr.progressed = false;
  if (pr.state === "probe") {
    pr.paused = false;
    return sendFrom(c, id, pr);
  }
  if (pr.canSend(c.o.maxInflightMsgs) && pr.next <= c.log.lastIndex) return sendFrom(c, id, pr);
  if (c.log.term(pr.match) === undefined) return sendSnapshot(c, id, pr);
  sendCommit(c, id, pr);
}

/** Commits what every voter holds, if it is of this term (older entries commit with it). */
export function maybeCommit(c: Core<unknown>): void {
  const me = c.o.id;
  const idx = committedIndex(voters(c), (id) => (id === me ? c.log.stable : c.progress.get(id)?.match ?? 0));
  if (idx <= c.commit || c.log.term(idx) !== c.term) return;
  const old = c.commit;
  advanceCommit(c, idx);
  let removedSelf = false;
  for (const x of c.log.confs) {
    if (x.index <= old || x.index > idx || x.change.op !== "remove") continue;
    if (x.change.id === me) removedSelf = true;
    else c.leaving.set(x.change.id, c.now + c.o.removedGraceTicks);
  }
  syncProgress(c);
  c.needBroadcast = true;
  if (removedSelf) {
    flush(c); // the others must learn of the commit before this node goes quiet
    becomeFollower(c, c.term, NONE, "this node was removed");
  }
}

/** Appends the "add" entry once the learner holds everything committed. */
function admitLearner(c: Core<unknown>): void {
  const l = c.learner;
  const pr = l && c.progress.get(l.id);
  if (!l || !pr || pr.state === "snapshot" || pr.match < c.commit) return;
  c.learner = null;
  const why = whyNotWritable(c);
  if (why) {
    fail(c, l.proposalId, "unavailable", why);
    return syncProgress(c);
  }
  appendOwn(c, { type: "conf", change: { op: "add", id: l.id, addr: l.addr } }, l.proposalId);
}

/**
 * Why a leader must stand down and call a new election now: `deadFrom` is
 * the first of its uncommitted entries that can never commit. The caller
 * runs the election (election.ts), so the leader's rules need not know it.
 */
export interface Reelect {
  readonly reason: string;
  readonly deadFrom: number;
}

/** Handles a peer's answer to an append or snapshot; a Reelect when the leader must call a new election. */
export function handleAppendResp(c: Core<unknown>, m: AppendRespMsg): Reelect | void {
  if (m.term > c.term) return becomeFollower(c, m.term, NONE);
  if (c.role !== "leader" || m.term !== c.term) return;
  const pr = c.progress.get(m.from);
  if (!pr) return;
  pr.lastHeard = c.now;
  if (!m.success) {
    const lacked = settleLacked(c, m);
    if (lacked) return lacked;
    if (pr.reject(m.index, m.hint)) sendFrom(c, m.from, pr);
    return;
  }
  if (pr.ack(m.index)) {
    maybeCommit(c);
    if (c.role !== "leader") return;
  }
  const a = m.aborted;
  if (a && a.index > c.commit && c.log.term(a.index) === a.term) {
    c.markers = merge(c.markers, [a], commitPoint(c), c.o.maxMarkers);
    return { reason: "the log held aborted entries", deadFrom: a.index };
  }
  admitLearner(c);
  feed(c, m.from, pr);
}

/**
 * A voter of this term says its log lacks our uncommitted entries from
 * `from` on (its log ends there, or differs at the rejected index), and the
 * first of them is of an earlier term t: then none of them can ever commit.
 * Their leader needed this voter's acknowledgement, which the voter never
 * gave, or gave for entries a later leader has since replaced (impossible had
 * they committed); the voter, now in a later term, refuses that leader for
 * good; and a later leader needs our acknowledgement, which the marker
 * (t, from) withholds forever (entries after it sit on top of it and die
 * with it). So they are dropped, definitely: a marker, and a new election
 * without them. Survivors of a dead leader settle its last writes this way
 * whenever one of them never received them. Returns the election to call, if any.
 */
function settleLacked(c: Core<unknown>, m: AppendRespMsg): Reelect | null {
  if (!voters(c).includes(m.from)) return null;
  const from = Math.max(Math.min(m.hint + 1, m.index), c.commit + 1);
  const t = c.log.term(from);
  if (t === undefined || t >= c.term) return null;
  const markers = merge(c.markers, [{ term: t, index: from }], commitPoint(c), c.o.maxMarkers);
  if (!markers.some((x) => x.term === t && x.index <= from)) return null; // no room to promise it: leave it pending
  c.markers = markers;
  return { reason: `node ${m.from} lacks entries from ${from} (term ${t}) on, which can therefore never commit`, deadFrom: from };
}

/** A leader's tick: heartbeats, proposal and join deadlines, removed peers' grace; a Reelect when a write missed its deadline. */
export function tickLeader(c: Core<unknown>): Reelect | void {
  if (++c.heartbeatElapsed >= c.o.heartbeatTicks) {
    c.heartbeatElapsed = 0;
    for (const [id, pr] of c.progress) heartbeat(c, id, pr);
  }
  for (const [i, p] of c.own) {
    if (i <= c.commit) continue;
    // Own entries are appended in index order with growing deadlines: the first uncommitted one expires first.
    if (p.deadline <= c.now) return { reason: "not every member acknowledged the write in time", deadFrom: Infinity };
    break;
  }
  const l = c.learner;
  if (l && l.deadline <= c.now) {
    fail(c, l.proposalId, "unavailable", `node ${l.id} did not catch up in time`);
    c.learner = null;
    syncProgress(c);
  }
  let gone = false;
  for (const [id, until] of c.leaving) {
    if (until <= c.now) {
      c.leaving.delete(id);
      gone = true;
    }
  }
  if (gone) syncProgress(c);
}
