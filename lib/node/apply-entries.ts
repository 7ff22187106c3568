/**
 * Committed entries applied to an in-memory state, in log order: the one
 * function the node's apply (which then writes the records) and a serving
 * thread's read replica (lib/server/replica.ts) both run, so a replica fed
 * the same entries holds the same state.
 */
import * as v from "valibot";
import type { Entry } from "../cluster/types.ts";
import { install, prepare } from "../state/apply.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { recordOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import { removedMaterial } from "./wipe.ts";

/** What applying a batch did besides changing the state. */
export interface Applied {
  /** Each failed command's error, by entry index. */
  readonly errors: Map<number, Error>;
  /** The state records to write (null: delete). */
  readonly changes: Map<string, Uint8Array | null>;
  /** Key material no longer in the state (to zero once nothing reads it). */
  readonly wipe: Uint8Array[];
  /** Whether a command removed key material for good (deletesKeys). */
  readonly erase: boolean;
  /** Whether the configured HSM keys changed. */
  readonly hsmChanged: boolean;
}

/** Applies `entries` (non-empty, from peers: validated here) to `state` and sets its applied index. */
export function applyEntries(state: State, entries: readonly Entry<Command>[]): Applied {
  const errors = new Map<number, Error>();
  const changes = new Map<string, Uint8Array | null>();
  const wipe: Uint8Array[] = [];
  let erase = false;
  let hsmChanged = false;
  for (const e of entries) {
    if (e.type === "conf" && e.change.op === "add") state.maxNodeId = Math.max(state.maxNodeId, e.change.id);
    if (e.type !== "cmd") continue;
    // Commands come from peers: validate, and let a bad one fail the same way on every node.
    const parsed = v.safeParse(CommandSchema, e.cmd);
    if (!parsed.success) {
      errors.set(e.index, Errors.badRequest("invalid command"));
      continue;
    }
    try {
      const effects = prepare(state, parsed.output);
      const removed = removedMaterial(state, parsed.output);
      install(state, effects);
      for (const fx of effects) changes.set(...recordOf(fx));
      wipe.push(...removed);
      erase ||= deletesKeys(parsed.output);
      hsmChanged ||= effects.some((fx) => fx.kind === "hsm");
    } catch (err) {
      errors.set(e.index, err instanceof KmsError ? err : Errors.badRequest("invalid command"));
    }
  }
  state.applied = entries[entries.length - 1].index;
  return { errors, changes, wipe, erase, hsmChanged };
}

/** Whether a command removes key material for good: a purge, or a deletion not kept for recovery. */
export function deletesKeys(cmd: Command): boolean {
  if (cmd.type === "deleted.purge" || cmd.type === "key.purge") return true;
  return (cmd.type === "key.delete" || cmd.type === "enclave.delete") && cmd.keepUntil === undefined;
}
