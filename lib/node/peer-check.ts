/**
 * What a restarting member asks its peers before it serves. Its sealed digest
 * catches single rows put back, but not a data directory restored or rolled
 * back as a whole: that one is consistent, only older. Its peers know better:
 * a write commits only once every member holds it durably, so an index any
 * peer has committed is one this node acknowledged. A node whose log ends
 * before that lost entries it acknowledged; it must not answer reads from its
 * older state until it has caught up, nor vote again in a term it may have
 * voted in already.
 */
import * as v from "valibot";
import { RaftNode } from "../cluster/node.ts";
import { askMembers, type Peers, RPC } from "./peers.ts";
import type { Durable, HardState, Members } from "../cluster/types.ts";
import type { Command } from "../state/commands.ts";
import type { Loaded } from "./replication.ts";

/** How long each peer has to answer; one that does not is left out. */
const ASK_MS = 1_500;

/** A peer's answer: its current term and the highest index it knows committed. */
export interface Progress {
  readonly term: number;
  readonly commit: number;
}

const Index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const ProgressSchema = v.object({ term: Index, commit: Index });

/** What this node must do when it is behind what it acknowledged. */
export interface Behind {
  /** Reads wait until the node has applied this index. */
  readonly floor: number;
  /** The hard state to resume from: the peers' term, this node's vote in it withheld. */
  readonly hard: HardState;
  /** For the operator: what happened and what the node does about it (no secret in it). */
  readonly message: string;
}

/** Judges the peers' answers against this node's durable state; null when nothing it acknowledged is missing. Pure. */
export function judge(id: number, lastIndex: number, hard: HardState, answers: readonly Progress[]): Behind | null {
  const commit = Math.max(0, ...answers.map((a) => a.commit));
  if (commit <= lastIndex) return null;
  const term = Math.max(hard.term, ...answers.map((a) => a.term));
  // Voting for itself is what a failed candidate would have done: it then grants no vote in `term`.
  return {
    floor: commit,
    hard: { ...hard, term, vote: id },
    message: `this node's data directory is older than what it acknowledged: its log ends at index ${lastIndex}, ` +
      `but its peers have committed index ${commit} (it was restored from an older copy, or rolled back). ` +
      `It serves no reads until it has caught up, and casts no vote in term ${term}.`,
  };
}

/** The progress of every other member that answers within ASK_MS. */
export async function askPeers(peers: Peers<Command>, members: Members, self: number): Promise<Progress[]> {
  const answers = await askMembers(peers, members, self, RPC.progress, ASK_MS);
  return answers.flatMap((a) => {
    const r = v.safeParse(ProgressSchema, a.reply);
    return r.success ? [r.output] : [];
  });
}

/**
 * Before replication starts: asks the peers, and if this node is behind what
 * it acknowledged, says so and withholds its vote (durably). Returns the
 * durable state to start from, and the index reads must wait for (0: none).
 */
export async function checkWithPeers(peers: Peers<Command>, loaded: Loaded): Promise<{ durable: Durable<Command>; readFloor: number }> {
  const { membership, durable, storage } = loaded;
  // A core built only to read the membership and the log's end; nothing of it runs.
  const view = new RaftNode<Command>({ id: membership.id, cluster: membership.cluster, random: () => 0 }, durable).status();
  if (!view.members.some((m) => m.id === view.id) || view.members.length < 2) return { durable, readFloor: 0 };
  const behind = judge(view.id, view.lastIndex, durable.hard, await askPeers(peers, view.members, view.id));
  if (!behind) return { durable, readFloor: 0 };
  console.error(`kms: ${behind.message}`);
  await storage.write({ hard: behind.hard, snapshot: null, truncateFrom: null, entries: [] });
  return { durable: { ...durable, hard: behind.hard }, readFloor: behind.floor };
}
