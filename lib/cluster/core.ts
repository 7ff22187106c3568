/**
 * The state of one replication node and the transitions every role shares.
 * Role-specific steps live in leader.ts, follower.ts and election.ts; the
 * public face is RaftNode (node.ts). Everything here is synchronous and pure
 * apart from the injected random function: output is appended to `msgs` and
 * `resolved`, never sent or written directly.
 */
import { type ConfigSource, configAt } from "./config.ts";
import { RaftLog } from "./log.ts";
import { type CommitPoint, deadBy, merge, prune } from "./markers.ts";
import { hasMember } from "./membership.ts";
import type { Options } from "./options.ts";
import type { Progress } from "./progress.ts";
import {
  type ConfigEdit, type Durable, type HardState, type Marker, type Members, type Message, NONE, type ProposeError,
  type Resolution, type Role, type Snapshot,
} from "./types.ts";

/** A proposal accepted by this node as leader, by log index. */
export interface OwnProposal {
  readonly id: number;
  readonly term: number;
  readonly deadline: number;
}

/** A node being brought up to date before its "add" entry is appended. */
export interface Learner {
  readonly id: number;
  readonly addr: string;
  readonly proposalId: number;
  readonly deadline: number;
}

/** Distributes Omit over the message union (so each variant keeps its own fields). */
type Unsent<M> = M extends Message<unknown> ? Omit<M, "cluster" | "from" | "to" | "term"> : never;

/** The whole mutable state of a node. */
export interface Core<C> {
  readonly o: Options;
  readonly log: RaftLog<C>;
  /** Latest snapshot: what a lagging or joining peer is sent, and the membership base. */
  snapshot: Snapshot;
  role: Role;
  term: number;
  vote: number;
  leader: number;
  commit: number;
  applied: number;
  markers: readonly Marker[];
  edit: ConfigEdit | null;
  /** Ticks since start: the only clock. */
  now: number;
  /** Tick at which a leader was last heard from (-1: never). */
  leaderHeardAt: number;
  /** Leader: the tick it took office (peers get activeTicks from then to answer). */
  leaderSince: number;
  /** Follower: the members its leader last said it cannot reach. */
  leaderUnreachable: readonly number[];
  electionElapsed: number;
  electionTimeout: number;
  heartbeatElapsed: number;
  votes: Map<number, boolean>;
  progress: Map<number, Progress>;
  own: Map<number, OwnProposal>;
  learner: Learner | null;
  /** Removed peers the leader keeps informing until the given tick. */
  leaving: Map<number, number>;
  noopIndex: number;
  /** Leader: new entries to send before the next Ready (batches proposals). */
  needBroadcast: boolean;
  nextProposalId: number;
  msgs: Message<C>[];
  resolved: Resolution[];
  /** A snapshot to write durably with the next Ready (received or compacted). */
  persistSnapshot: Snapshot | null;
  /** A received snapshot the application must load before applying anything else. */
  restore: Snapshot | null;
  /** The hard state as last handed to the driver. */
  persistedHard: HardState;
  /** Messages ignored because of a foreign cluster id or recipient. */
  dropped: number;
}

/** A node's state rebuilt from what it made durable. */
export function newCore<C>(o: Options, d: Durable<C>): Core<C> {
  const log = new RaftLog<C>(d.snapshot.index, d.snapshot.term, d.entries);
  const h = d.hard;
  if (h.commit > log.lastIndex) throw new Error(`cluster: durable commit ${h.commit} beyond the log (${log.lastIndex})`);
  const commit = Math.max(h.commit, d.snapshot.index);
  const applied = Math.min(Math.max(o.applied ?? d.snapshot.index, d.snapshot.index), commit);
  const c: Core<C> = {
    o, log, snapshot: d.snapshot, role: "follower", term: h.term, vote: h.vote, leader: NONE, commit, applied,
    markers: h.markers, edit: h.edit, now: 0, leaderHeardAt: -1, leaderSince: 0, leaderUnreachable: [], electionElapsed: 0, electionTimeout: o.electionTicks, heartbeatElapsed: 0,
    votes: new Map(), progress: new Map(), own: new Map(), learner: null, leaving: new Map(), noopIndex: 0,
    needBroadcast: false, nextProposalId: 1, msgs: [], resolved: [], persistSnapshot: null, restore: null,
    persistedHard: h, dropped: 0,
  };
  resetElection(c);
  return c;
}

/** The sources configurations are computed from. */
export function configSource(c: Core<unknown>): ConfigSource {
  return { snapshot: c.snapshot, edit: c.edit, confs: c.log.confs };
}

/** The membership in force at the end of the log (pending changes included). */
export function latest(c: Core<unknown>): Members {
  return configAt(configSource(c), c.log.lastIndex);
}

/** The membership in force at `index`. */
export function membersAt(c: Core<unknown>, index: number): Members {
  return configAt(configSource(c), index);
}

/** The hard state as it is now. */
export function hardState(c: Core<unknown>): HardState {
  return { term: c.term, vote: c.vote, commit: c.commit, markers: c.markers, edit: c.edit };
}

/** True if the hard state changed since it was last handed out. */
export function hardChanged(c: Core<unknown>): boolean {
  const p = c.persistedHard;
  return p.term !== c.term || p.vote !== c.vote || p.commit !== c.commit || p.markers !== c.markers || p.edit !== c.edit;
}

/**
 * True if `next` differs from `prev` in the commit index at most. Such a hard
 * state need not be durable before anything leaves: the commit index can be
 * learnt again. Term, vote, markers and edits must be.
 */
export function onlyCommitMoved(prev: HardState, next: HardState): boolean {
  return prev.term === next.term && prev.vote === next.vote && prev.edit === next.edit && prev.markers === next.markers;
}

/** Queues a message to `to`, stamped with cluster, sender and (unless given) the current term. */
export function send<C>(c: Core<C>, to: number, m: Unsent<Message<C>>, term = c.term): void {
  c.msgs.push({ ...m, cluster: c.o.cluster, from: c.o.id, to, term } as Message<C>);
}

/** Queues the definite failure of proposal `id`. */
export function fail(c: Core<unknown>, id: number, error: ProposeError, reason: string): void {
  c.resolved.push({ id, ok: false, error, reason });
}

/** Restarts the election clock with a fresh random timeout in [T, 2T). */
export function resetElection(c: Core<unknown>): void {
  c.electionElapsed = 0;
  c.electionTimeout = c.o.electionTicks + c.o.random(c.o.electionTicks);
}

/**
 * A leader gives up its term. Every own proposal not yet committed becomes a
 * definite failure: the entries are dropped from this log and a marker makes
 * sure this node never acknowledges them, so they can never commit. If the log
 * holds a dead chain from `deadFrom` on, it goes too. Leaves the role to the
 * caller, which must leave the term too (follow a higher term or stand for the next).
 */
export function abdicate(c: Core<unknown>, reason: string, deadFrom = Infinity): void {
  if (c.role !== "leader") return;
  let from = deadFrom;
  for (const i of c.own.keys()) if (i > c.commit) from = Math.min(from, i);
  if (from <= c.commit) throw new Error(`cluster: abdicate would drop committed entry ${from} (commit ${c.commit})`);
  if (from <= c.log.lastIndex) {
    const ownFrom = Math.max(from, c.noopIndex);
    if (ownFrom <= c.log.lastIndex && c.log.term(ownFrom) === c.term) c.markers = [...c.markers, { term: c.term, index: ownFrom }];
    c.log.truncateFrom(from);
  }
  for (const [i, p] of c.own) {
    if (i >= from) {
      fail(c, p.id, "unavailable", reason);
      c.own.delete(i);
    }
  }
  if (c.learner) fail(c, c.learner.proposalId, "unavailable", reason);
  c.learner = null;
  c.progress.clear();
  c.leaving.clear();
  c.needBroadcast = false;
  c.role = "follower";
}

/** Becomes a follower of `term` (following `leader`, or nobody yet). */
export function becomeFollower(c: Core<unknown>, term: number, leader: number, reason = "lost leadership"): void {
  abdicate(c, reason);
  if (term > c.term) {
    c.term = term;
    c.vote = NONE;
  }
  c.role = "follower";
  c.leader = leader;
  c.votes.clear();
  resetElection(c);
}

/**
 * True if this node may stand for election: a member as of its commit index
 * (so a joining node waits until its "add" commits) and not loading a
 * snapshot. A member whose removal is pending may stand: it may hold the
 * longest log, and the removal needs a leader to commit.
 */
export function canCampaign(c: Core<unknown>): boolean {
  return c.restore === null && hasMember(membersAt(c, c.commit), c.o.id);
}

/**
 * Takes in markers heard from a peer and drops dead entries this node holds.
 * Returns the first dead index found in the log (Infinity if none); a leader
 * must then abdicate, any other role has already dropped them.
 */
export function adoptMarkers(c: Core<unknown>, incoming: readonly Marker[]): number {
  if (incoming.length === 0) return Infinity;
  c.markers = merge(c.markers, incoming, commitPoint(c), c.o.maxMarkers);
  let dead = Infinity;
  // The creator's entries from m.index on are all of m.term, so the first one tells.
  for (const m of incoming) if (m.index > c.commit && c.log.term(m.index) === m.term) dead = Math.min(dead, m.index);
  if (dead !== Infinity && c.role !== "leader") c.log.truncateFrom(dead);
  return dead;
}

/** Moves the commit index forward (never back) and forgets markers it makes obsolete. */
export function advanceCommit(c: Core<unknown>, index: number): void {
  if (index <= c.commit) return;
  if (index > c.log.lastIndex) throw new Error(`cluster: commit ${index} beyond the log (${c.log.lastIndex})`);
  c.commit = index;
  c.markers = prune(c.markers, commitPoint(c));
}

/** The commit index and the term of the entry there. */
export function commitPoint(c: Core<unknown>): CommitPoint {
  return { index: c.commit, term: c.log.term(c.commit) ?? 0 };
}

/** The dead marker for an entry, if any (re-exported for the role steps). */
export const isDead = deadBy;
