/** Options of a replication node: identity, timeouts in ticks, and limits. */

/** What the driver passes to `new RaftNode(...)`. */
export interface NodeOptions {
  /** This node's id (a non-negative integer, never reused for another node). */
  readonly id: number;
  /** The cluster's identity; messages of any other cluster are dropped. */
  readonly cluster: string;
  /** Uniform integer in [0, n): the only source of randomness (seeded in tests). */
  readonly random: (n: number) => number;
  /** Index the application's state already reflects (defaults to the snapshot's). */
  readonly applied?: number;
  /** Base election timeout; the actual one is uniform in [electionTicks, 2·electionTicks). */
  readonly electionTicks?: number;
  /** The leader sends a heartbeat to every peer this often. */
  readonly heartbeatTicks?: number;
  /** A leader treats a peer as reachable if it answered within this many ticks. */
  readonly activeTicks?: number;
  /** An accepted proposal not committed within this many ticks fails (definitely). */
  readonly proposalTicks?: number;
  /** A joining node must catch up within this many ticks, or the join fails. */
  readonly joinTicks?: number;
  /** A snapshot without an answer is sent again after this many ticks. */
  readonly snapshotRetryTicks?: number;
  /** How long a leader keeps telling a removed node that its removal committed. */
  readonly removedGraceTicks?: number;
  /** Most entries in one append message. */
  readonly maxEntriesPerMsg?: number;
  /** Most unacknowledged append messages per peer. */
  readonly maxInflightMsgs?: number;
  /** Most uncommitted proposals a leader holds. */
  readonly maxPendingProposals?: number;
  /** Most committed entries handed out in one Ready. */
  readonly maxApplyPerReady?: number;
  /** Most abort markers kept; a leader refuses proposals when half are used. */
  readonly maxMarkers?: number;
}

/** NodeOptions with every default filled in. */
export type Options = Required<Omit<NodeOptions, "applied">> & { readonly applied: number | undefined };

/** Fills defaults and validates once, up front; throws on nonsense. */
export function resolveOptions(o: NodeOptions): Options {
  const electionTicks = o.electionTicks ?? 10;
  const r: Options = {
    id: o.id,
    cluster: o.cluster,
    random: o.random,
    applied: o.applied,
    electionTicks,
    heartbeatTicks: o.heartbeatTicks ?? 1,
    activeTicks: o.activeTicks ?? electionTicks,
    proposalTicks: o.proposalTicks ?? 2 * electionTicks,
    joinTicks: o.joinTicks ?? 10 * electionTicks,
    snapshotRetryTicks: o.snapshotRetryTicks ?? electionTicks,
    removedGraceTicks: o.removedGraceTicks ?? 3 * electionTicks,
    maxEntriesPerMsg: o.maxEntriesPerMsg ?? 64,
    maxInflightMsgs: o.maxInflightMsgs ?? 8,
    maxPendingProposals: o.maxPendingProposals ?? 1024,
    maxApplyPerReady: o.maxApplyPerReady ?? 256,
    maxMarkers: o.maxMarkers ?? 32,
  };
  if (!Number.isSafeInteger(r.id) || r.id < 0) throw new Error(`cluster: node id must be a non-negative integer, got ${r.id}`);
  if (typeof r.cluster !== "string" || r.cluster === "") throw new Error("cluster: cluster id must be a non-empty string");
  if (typeof r.random !== "function") throw new Error("cluster: random must be a function");
  for (const k of ["electionTicks", "heartbeatTicks", "activeTicks", "proposalTicks", "joinTicks", "snapshotRetryTicks",
    "removedGraceTicks", "maxEntriesPerMsg", "maxInflightMsgs", "maxPendingProposals", "maxApplyPerReady", "maxMarkers"] as const) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 1) throw new Error(`cluster: ${k} must be a positive integer, got ${r[k]}`);
  }
  if (r.heartbeatTicks >= r.electionTicks) throw new Error("cluster: heartbeatTicks must be below electionTicks");
  if (r.maxMarkers < 2) throw new Error("cluster: maxMarkers must be at least 2");
  return r;
}
