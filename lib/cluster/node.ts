/**
 * RaftNode: the public face of the replication core, shaped like etcd's
 * RawNode. Feed it ticks, messages and proposals; take a Ready; persist it,
 * send its messages, restore/apply, report its results; then advance().
 * No timers, no I/O, no hidden randomness: the same inputs give the same
 * outputs, which is what makes the simulator possible.
 */
import {
  abdicate, becomeFollower, canCampaign, type Core, hardChanged, hardState, latest, membersAt, newCore, onlyCommitMoved, resetElection,
} from "./core.ts";
import { campaign, handleVote, handleVoteResp } from "./election.ts";
import { handleAppend, handleSnapshot } from "./follower.ts";
import {
  flush, handleAppendResp, type Reelect, isActive, maybeCommit, propose, proposeChange, tickLeader, unreachableVoters, voters, whyNotWritable,
} from "./leader.ts";
import { hasMember, withoutIds } from "./membership.ts";
import { type NodeOptions, resolveOptions } from "./options.ts";
import {
  type ConfChange, type Durable, type Entry, type HardState, type Message, NONE, type ProposeResult, type Ready,
  type Resolution, type Status,
} from "./types.ts";

/** What a handed-out Ready will have made true once the driver calls advance(). */
interface InFlight {
  readonly last: number;
  readonly applied: number;
  readonly hard: HardState;
}

/** One replica of the log: a pure state machine driven by tick/step/propose and ready/advance. */
export class RaftNode<C> {
  #c: Core<C>;
  #inflight: InFlight | null = null;

  /** A node resumed from its durable state (see bootstrapState / freshState for new ones). */
  constructor(options: NodeOptions, durable: Durable<C>) {
    this.#c = newCore(resolveOptions(options), durable);
  }

  /** This node's id. */
  get id(): number {
    return this.#c.o.id;
  }

  /** Current role. */
  get role(): Status["role"] {
    return this.#c.role;
  }

  /** Current term. */
  get term(): number {
    return this.#c.term;
  }

  /** The leader this node follows (NONE if unknown). */
  get leader(): number {
    return this.#c.leader;
  }

  /** Highest index known committed. */
  get commit(): number {
    return this.#c.commit;
  }

  /** Highest index handed to the application and advanced past. */
  get applied(): number {
    return this.#c.applied;
  }

  /** Index of the last entry in the log. */
  get lastIndex(): number {
    return this.#c.log.lastIndex;
  }

  /** Index of the last entry the latest snapshot covers. */
  get snapshotIndex(): number {
    return this.#c.snapshot.index;
  }

  /** Advances the clock by one tick (elections, heartbeats, deadlines). */
  tick(): void {
    this.#idle("tick");
    const c = this.#c;
    c.now++;
    if (c.role === "leader") return this.#reelect(tickLeader(c));
    if (++c.electionElapsed < c.electionTimeout) return;
    if (canCampaign(c)) campaign(c);
    else resetElection(c);
  }

  /** Takes in one message from a peer; messages of another cluster or for another node are dropped. */
  step(m: Message<C>): void {
    this.#idle("step");
    const c = this.#c;
    if (m.cluster !== c.o.cluster || m.to !== c.o.id || m.from === c.o.id) {
      c.dropped++;
      return;
    }
    switch (m.type) {
      case "vote": return handleVote(c, m);
      case "voteResp": return handleVoteResp(c, m);
      case "append": return handleAppend(c, m);
      case "snapshot": return handleSnapshot(c, m);
      case "appendResp": return this.#reelect(handleAppendResp(c, m));
    }
  }

  /** A leader that must stand down calls a new election at once. */
  #reelect(r: Reelect | void): void {
    if (r) campaign(this.#c, r.reason, r.deadFrom);
  }

  /** Proposes a command (leader only); the outcome arrives later in Ready.resolved under the returned id. */
  propose(cmd: C): ProposeResult {
    this.#idle("propose");
    return propose(this.#c, cmd);
  }

  /** Proposes adding (after a snapshot and catch-up) or removing one node (leader only). */
  proposeChange(change: ConfChange): ProposeResult {
    this.#idle("proposeChange");
    return proposeChange(this.#c, change);
  }

  /** Starts an election now, if this node may stand (e.g. a new single-node cluster). */
  campaign(): void {
    this.#idle("campaign");
    if (this.#c.role !== "leader" && canCampaign(this.#c)) campaign(this.#c);
  }

  /**
   * Repair, without quorum and on this node only: drops `remove` from its
   * membership. Dangerous: safe only if those nodes never come back with
   * their old state (they would not know, and could serve stale reads).
   */
  forceEdit(remove: readonly number[]): void {
    this.#idle("forceEdit");
    const c = this.#c;
    if (remove.length === 0) throw new Error("cluster: a forced edit must name at least one node to remove");
    const before = membersAt(c, c.commit);
    const members = withoutIds(before, remove);
    if (!hasMember(members, c.o.id)) throw new Error("cluster: a forced edit cannot remove this node itself");
    // Nothing to drop (e.g. a retried edit): stay as we are rather than abdicate for nothing.
    if (members.length === before.length) return;
    abdicate(c, "membership edited by hand");
    becomeFollower(c, c.term, NONE, "membership edited by hand");
    c.edit = { index: c.commit, members };
    if (canCampaign(c)) campaign(c);
  }

  /** Replaces the log up to `index` (already applied) by the application's snapshot `data`. */
  compact(index: number, data: Uint8Array): void {
    this.#idle("compact");
    const c = this.#c;
    if (index <= c.snapshot.index) return;
    if (index > c.applied) throw new Error(`cluster: compact to ${index} beyond applied ${c.applied}`);
    const s = { index, term: c.log.term(index)!, members: membersAt(c, index), data };
    c.log.compact(index);
    c.snapshot = s;
    c.persistSnapshot = s;
    if (c.edit && c.edit.index <= index) c.edit = null;
  }

  /** True if ready() has something to hand out. */
  hasReady(): boolean {
    const c = this.#c;
    if (this.#inflight) return false;
    if (c.needBroadcast && c.role === "leader") return true;
    const base = c.restore ? c.restore.index : c.applied;
    return c.msgs.length > 0 || c.resolved.length > 0 || c.restore !== null || c.persistSnapshot !== null ||
      c.log.hasUnstable() || hardChanged(c) || c.commit > base;
  }

  /** The next batch of work; no other input is accepted until advance(). */
  ready(): Ready<C> {
    this.#idle("ready");
    const c = this.#c;
    if (c.needBroadcast) flush(c);
    const { truncateFrom, entries } = c.log.unstable();
    const hard = hardChanged(c) ? hardState(c) : null;
    const base = c.restore ? c.restore.index : c.applied;
    const hi = Math.min(c.commit, base + c.o.maxApplyPerReady);
    const committed = c.log.slice(base + 1, hi + 1);
    const resolved: Resolution[] = c.resolved;
    if (c.restore) this.#resolveCovered(resolved, c.restore.index);
    for (const e of committed) {
      const p = c.own.get(e.index);
      if (!p) continue;
      if (p.term !== e.term) throw new Error(`cluster: own entry ${e.index} of term ${p.term} replaced by term ${e.term}`);
      c.own.delete(e.index);
      resolved.push({ id: p.id, ok: true, index: e.index });
    }
    const rd: Ready<C> = {
      persist: { hard, snapshot: c.persistSnapshot, truncateFrom, entries },
      messages: c.msgs,
      restore: c.restore,
      committed,
      resolved,
      sendFirst: c.role === "leader" && c.persistSnapshot === null && truncateFrom === null && (!hard || onlyCommitMoved(c.persistedHard, hard)) &&
        c.msgs.every((m) => m.type === "append"),
    };
    c.msgs = [];
    c.resolved = [];
    c.persistSnapshot = null;
    this.#inflight = { last: c.log.lastIndex, applied: Math.max(base, hi), hard: hard ?? c.persistedHard };
    return rd;
  }

  /** Records that the last Ready was fully handled (persisted, sent, applied, reported). */
  advance(): void {
    const f = this.#inflight;
    if (!f) throw new Error("cluster: advance() without a Ready");
    const c = this.#c;
    this.#inflight = null;
    c.log.markStable(f.last);
    c.persistedHard = f.hard;
    c.applied = f.applied;
    c.restore = null;
    if (c.role === "leader") maybeCommit(c);
  }

  /**
   * Entries this node holds but has not applied: committed-not-yet-applied and
   * uncommitted alike. A read that touches anything these entries change must
   * wait until they are applied or gone; every other read may be answered now.
   */
  pending(): readonly Entry<C>[] {
    const c = this.#c;
    return c.log.slice(Math.max(c.applied, c.log.snapIndex) + 1, c.log.lastIndex + 1);
  }

  /**
   * True if this node may answer reads (subject to pending()): it is a member
   * both in its applied state and at the end of its log, and not loading a
   * snapshot. A joining node becomes readable when it applies its own "add";
   * a node being removed stops when it receives its "remove".
   */
  readable(): boolean {
    const c = this.#c;
    return c.restore === null && hasMember(membersAt(c, c.applied), c.o.id) && hasMember(latest(c), c.o.id);
  }

  /**
   * Why the uncommitted entries this node holds cannot be settled (committed
   * or dropped) now, or null if they can be expected to be: there is no
   * leader, the leader has gone silent, or a member whose acknowledgement
   * they need is unreachable. A read waiting on such an entry is answered
   * at once instead of kept waiting for nothing.
   */
  unsettled(): string | null {
    const c = this.#c;
    let ids: readonly number[];
    if (c.role === "leader") ids = unreachableVoters(c);
    else if (c.leader === NONE) return "there is no leader";
    else if (c.now - c.leaderHeardAt > Math.max(3 * c.o.heartbeatTicks, c.o.electionTicks / 2)) return `the leader (node ${c.leader}) is not answering`;
    else ids = c.leaderUnreachable;
    if (ids.length === 0) return null;
    return `node ${ids.join(", node ")} ${ids.length === 1 ? "is" : "are"} unreachable`;
  }

  /** True if this node is a leader that would accept a write now (all members reachable). */
  writable(): boolean {
    return whyNotWritable(this.#c) === null;
  }

  /** The entry at `index`, if still in the log (for tools and tests). */
  entry(index: number): Entry<C> | undefined {
    return this.#c.log.entry(index);
  }

  /** A snapshot of this node's view, for status pages and tests. */
  status(): Status {
    const c = this.#c;
    const vs = c.role === "leader" ? new Set(voters(c)) : new Set<number>();
    return {
      id: c.o.id, role: c.role, term: c.term, leader: c.leader, commit: c.commit, applied: c.applied,
      lastIndex: c.log.lastIndex, snapshotIndex: c.snapshot.index, members: latest(c), readable: this.readable(),
      writable: this.writable(),
      sinceLeader: c.role === "leader" ? 0 : c.leaderHeardAt < 0 ? -1 : c.now - c.leaderHeardAt,
      peers: [...c.progress].map(([id, pr]) => ({
        id, match: pr.match, next: pr.next, state: pr.state, active: isActive(c, pr), voter: vs.has(id),
      })),
    };
  }

  /** Committed own proposals that a received snapshot covers resolve as committed but `covered` (their result is not known here). */
  #resolveCovered(out: Resolution[], upTo: number): void {
    for (const [i, p] of this.#c.own) {
      if (i > upTo) continue;
      this.#c.own.delete(i);
      out.push({ id: p.id, ok: true, index: i, covered: true });
    }
  }

  /** Inputs must wait while a Ready is out: its messages may depend on state not yet durable. */
  #idle(what: string): void {
    if (this.#inflight) throw new Error(`cluster: ${what}() between ready() and advance()`);
  }
}
