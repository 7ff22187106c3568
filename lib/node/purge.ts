/**
 * Purging deleted keys and enclaves once their recovery window has passed.
 * The leader proposes it as a replicated command carrying its clock, so every
 * node purges exactly the same things whatever its own clock says; a purge
 * proposed again (by the next leader, before it saw the first applied) purges
 * nothing more (apply.ts drops only what is still kept and due).
 */
import type { KmsNode } from "./node.ts";

/** How often the leader looks for deletions whose window has passed. */
const INTERVAL_MS = 1_000;
/** Most deletions purged by one command. */
const BATCH = 1_000;

/** The ids of deletions due at `now` that no pending entry already purges. */
export function duePurges(node: KmsNode, now: number): number[] {
  const pending = new Set<number>();
  for (const e of node.pending()) {
    if (e.type === "cmd" && e.cmd.type === "deleted.purge") for (const id of e.cmd.ids) pending.add(id);
  }
  const due: number[] = [];
  for (const d of node.state.deleted.values()) {
    if (d.purgeAt <= now && !pending.has(d.id)) due.push(d.id);
    if (due.length === BATCH) break;
  }
  return due;
}

/** Proposes one purge if this node leads, may write, and something is due; resolves when it is done (or failed: the next round retries). */
export async function purgeDue(node: KmsNode): Promise<void> {
  const st = node.status();
  if (st.role !== "leader" || !st.writable) return; // a stopping node refuses the write: the next round retries
  const now = node.clock();
  const ids = duePurges(node, now);
  if (ids.length === 0) return;
  try {
    await node.write({ type: "deleted.purge", ids, at: now });
  } catch {
    // Unavailable or unknown: the next round looks again.
  }
}

/** Runs purgeDue every second, one at a time, until stopped. */
export function startPurger(node: KmsNode): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void purgeDue(node).finally(() => (busy = false));
  }, INTERVAL_MS);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
