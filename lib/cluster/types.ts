/**
 * The data the replication core exchanges with its driver: log entries,
 * messages, durable state and the Ready batch. Plain readonly objects, so a
 * driver can serialize them any way it likes and the simulator can share them.
 */

/** "No node": used for an unknown leader or an ungranted vote. */
export const NONE = -1;

/** A cluster member: a node id (never reused) and the address the driver dials. */
export interface Member {
  readonly id: number;
  readonly addr: string;
}

/** Members of one configuration, sorted by id. */
export type Members = readonly Member[];

/** One membership change; every change is a log entry of its own. */
export type ConfChange =
  | { readonly op: "add"; readonly id: number; readonly addr: string }
  | { readonly op: "remove"; readonly id: number };

/** One log entry: an opaque command, a new leader's no-op, or a membership change. */
export type Entry<C> =
  | { readonly index: number; readonly term: number; readonly type: "cmd"; readonly cmd: C }
  | { readonly index: number; readonly term: number; readonly type: "noop" }
  | { readonly index: number; readonly term: number; readonly type: "conf"; readonly change: ConfChange };

/**
 * An abort marker: the leader of `term` gave up its entries from `index` on and
 * will never acknowledge them, so no entry of `term` at `index` or later can
 * ever commit (commit needs every member, that leader included).
 */
export interface Marker {
  readonly term: number;
  readonly index: number;
}

/** A forced membership (repair): from log index `index` on, `members` is the configuration. */
export interface ConfigEdit {
  readonly index: number;
  readonly members: Members;
}

/** What a snapshot covers: the last included entry and the membership there. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly members: Members;
}

/** A snapshot: its coverage plus the application's opaque state bytes. */
export interface Snapshot extends SnapshotMeta {
  readonly data: Uint8Array;
}

/** The small state that must be durable before any message depending on it leaves. */
export interface HardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
  readonly markers: readonly Marker[];
  readonly edit: ConfigEdit | null;
}

/** Everything a node has made durable: what a restart starts from. */
export interface Durable<C> {
  readonly hard: HardState;
  readonly snapshot: Snapshot;
  readonly entries: readonly Entry<C>[];
}

/** Fields every message carries; `cluster` keeps two clusters from ever mixing. */
export interface Envelope {
  readonly cluster: string;
  readonly from: number;
  readonly to: number;
  readonly term: number;
}

/**
 * A candidate asks for a vote; `markers` let voters drop dead entries first.
 * `pre`: a pre-vote for `term` (the candidate's next term), which changes
 * nothing at the voter, so a node that cannot win never disturbs the others.
 */
export interface VoteMsg extends Envelope {
  readonly type: "vote";
  readonly pre: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly markers: readonly Marker[];
}

/** The answer to a vote request (`pre` as in the request). */
export interface VoteRespMsg extends Envelope {
  readonly type: "voteResp";
  readonly pre: boolean;
  readonly granted: boolean;
}

/**
 * Leader → follower: entries after (prevIndex, prevTerm), the commit index,
 * known markers, and the members the leader cannot reach (so followers know
 * when the entries they hold cannot be settled).
 */
export interface AppendMsg<C> extends Envelope {
  readonly type: "append";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry<C>[];
  readonly commit: number;
  readonly markers: readonly Marker[];
  readonly unreachable: readonly number[];
}

/**
 * Follower → leader. On success `index` is the last index known to match the
 * leader's log; on failure `index` is the rejected prevIndex and `hint` the
 * follower's last index. `aborted` reports a dead entry the follower refused.
 */
export interface AppendRespMsg extends Envelope {
  readonly type: "appendResp";
  readonly success: boolean;
  readonly index: number;
  readonly hint: number;
  readonly aborted: Marker | null;
}

/** Leader → follower (or joining node): the whole state as of `snapshot.index`. */
export interface SnapshotMsg extends Envelope {
  readonly type: "snapshot";
  readonly snapshot: Snapshot;
}

/** Every message between nodes. */
export type Message<C> = VoteMsg | VoteRespMsg | AppendMsg<C> | AppendRespMsg | SnapshotMsg;

/** Why a proposal was refused or failed; every failure is definite (the entry will never commit). */
export type ProposeError = "not-leader" | "unavailable" | "busy" | "invalid";

/** The immediate answer to propose(): accepted (outcome comes later in Ready.resolved) or refused. */
export type ProposeResult =
  | { readonly ok: true; readonly id: number }
  | { readonly ok: false; readonly error: ProposeError; readonly reason: string; readonly leader: number };

/**
 * The final outcome of an accepted proposal. `covered`: committed, but a
 * snapshot replaced this node's state before it applied the entry, so the
 * entry's application result (say, "key exists") is not known here.
 */
export type Resolution =
  | { readonly id: number; readonly ok: true; readonly index: number; readonly covered?: true }
  | { readonly id: number; readonly ok: false; readonly error: ProposeError; readonly reason: string };

/**
 * What the driver must make durable, in this order and atomically: install
 * `snapshot` (dropping entries it covers), drop entries from `truncateFrom`,
 * append `entries`, write `hard`.
 */
export interface Persist<C> {
  readonly hard: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly truncateFrom: number | null;
  readonly entries: readonly Entry<C>[];
}

/** One batch of work for the driver: persist, then send (or send, then persist: sendFirst), then restore/apply, then report. */
export interface Ready<C> {
  readonly persist: Persist<C>;
  readonly messages: readonly Message<C>[];
  readonly restore: Snapshot | null;
  readonly committed: readonly Entry<C>[];
  readonly resolved: readonly Resolution[];
  /**
   * The messages may leave before the persist is durable: they are a leader's
   * appends, and the persist adds entries (and maybe moves the commit index),
   * nothing else. As in Raft (§10.2.1), the leader writes its log in parallel
   * with its followers: its own copy counts toward a commit only once durable.
   */
  readonly sendFirst: boolean;
}

/** The role a node currently plays. */
export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** What the leader knows about one peer. */
export interface PeerStatus {
  readonly id: number;
  readonly match: number;
  readonly next: number;
  readonly state: "probe" | "replicate" | "snapshot";
  readonly active: boolean;
  readonly voter: boolean;
}

/** A node's view of itself and (on a leader) of its peers, for `kms ls` and health checks. */
export interface Status {
  readonly id: number;
  readonly role: Role;
  readonly term: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly members: Members;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Ticks since this node last heard from a leader (0 on the leader, -1 if never). */
  readonly sinceLeader: number;
  readonly peers: readonly PeerStatus[];
}
