/**
 * Which pending entries a simulated read waits for. The simulator's keys all
 * live in one "enclave"; a read names one key, or LIST (every key, like a
 * listing). The rule, as the server applies it per object (docs/cluster.md):
 * a read waits only for pending writes to what it reads. The old rule (any
 * pending write in the enclave blocks every read in it) is kept so scenario
 * tests can show that the liveness invariant catches it.
 */
import type { Entry } from "../types.ts";
import type { KvCmd } from "./kv.ts";

/** A read of every key at once (a listing). */
export const LIST = "*";

/** "object": wait for writes to what the read reads (the rule); "enclave": wait for any write (the old rule). */
export type ReadRule = "object" | "enclave";

/** The keys a read of `target` returns. */
export function keysOf(target: string, keys: readonly string[]): readonly string[] {
  return target === LIST ? keys : [target];
}

/** The first pending entry a read of `target` must wait for under `rule`, if any. */
export function blocker(rule: ReadRule, pending: readonly Entry<KvCmd>[], target: string): Entry<KvCmd> | undefined {
  for (const e of pending) {
    if (e.type !== "cmd") continue;
    if (rule === "enclave" || target === LIST || e.cmd.key === target) return e;
  }
  return undefined;
}
