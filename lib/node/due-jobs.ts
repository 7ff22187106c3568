/**
 * "The leader proposes X when due": replicated commands that fall due with
 * time (a key's automatic rotation, the purge after a deletion date). Every
 * few hundred ms the leader asks each provider what is due at its clock and
 * proposes it, one round at a time. Providers' commands carry that time and
 * are conditional on the state when they apply (see state/apply-lifecycle.ts),
 * so a job proposed twice — by a leader that lost its leadership with the
 * proposal in flight, then by the next — does its work once. Followers never
 * propose; a failed round is simply tried again at the next tick.
 */
import type { Command } from "../state/commands.ts";
import type { State } from "../state/state.ts";
import type { KmsNode } from "./node.ts";

/** A source of commands that fall due with time. */
export interface DueProvider {
  readonly name: string;
  /** The commands due at `now` (ms) in `state`; each must be a no-op when applied once it is no longer due. */
  due(state: State, now: number): Command[];
}

/** How often the leader looks for due jobs, and the most commands one round proposes. */
const INTERVAL_MS = 500;
const MAX_PER_ROUND = 100;

/** Running due jobs: `stop()` ends them; `round()` runs one round now (tests). */
export interface DueJobs {
  stop(): void;
  round(): Promise<number>;
}

/** Proposes what `providers` say is due, whenever this node leads and may write; returns how many commands were proposed. */
export async function dueRound(node: KmsNode, providers: readonly DueProvider[], now: number): Promise<number> {
  if (!node.leadsWritably()) return 0;
  const due = providers.flatMap((p) => p.due(node.state, now)).slice(0, MAX_PER_ROUND);
  for (const cmd of due) {
    try {
      await node.write(cmd);
    } catch {
      // Refused (e.g. no longer the leader) or unknown: the next round looks again.
      return due.indexOf(cmd);
    }
  }
  return due.length;
}

/** Runs a round every INTERVAL_MS (never two at once) at `node.clock()`, until stopped. */
export function startDueJobs(node: KmsNode, providers: readonly DueProvider[], intervalMs = INTERVAL_MS): DueJobs {
  let busy: Promise<number> | undefined;
  const round = () => (busy ??= dueRound(node, providers, node.clock()).finally(() => (busy = undefined)));
  const timer = setInterval(() => void round(), intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer), round };
}
