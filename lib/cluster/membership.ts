/** Membership lists: pure functions over sorted, duplicate-free member arrays. */
import type { ConfChange, Members } from "./types.ts";

/** Most members a configuration may hold (write quorum is all of them). */
export const MAX_MEMBERS = 64;

/** True if `id` is a member. */
export function hasMember(ms: Members, id: number): boolean {
  for (const m of ms) if (m.id === id) return true;
  return false;
}

/** The member ids, ascending. */
export function memberIds(ms: Members): number[] {
  return ms.map((m) => m.id);
}

/**
 * The configuration after `change`. Idempotent (adding a member again updates
 * its address, removing an absent one changes nothing) because a forced edit
 * may already have applied what a pending entry says.
 */
export function applyChange(ms: Members, change: ConfChange): Members {
  const rest = ms.filter((m) => m.id !== change.id);
  if (change.op === "remove") return rest.length === ms.length ? ms : rest;
  return [...rest, { id: change.id, addr: change.addr }].sort((a, b) => a.id - b.id);
}

/** Why `change` may not be proposed against `ms`, or null if it may. */
export function checkChange(ms: Members, change: ConfChange): string | null {
  if (!Number.isSafeInteger(change.id) || change.id < 0) return `bad node id ${change.id}`;
  if (change.op === "add") {
    if (hasMember(ms, change.id)) return `node ${change.id} is already a member`;
    if (ms.length >= MAX_MEMBERS) return `a cluster holds at most ${MAX_MEMBERS} nodes`;
    if (typeof change.addr !== "string" || change.addr === "") return "a new node needs an address";
    return null;
  }
  if (!hasMember(ms, change.id)) return `node ${change.id} is not a member`;
  if (ms.length === 1) return "cannot remove the last member";
  return null;
}

/** Ids present in any of the lists, ascending and without duplicates. */
export function unionIds(lists: readonly Members[]): number[] {
  const s = new Set<number>();
  for (const ms of lists) for (const m of ms) s.add(m.id);
  return [...s].sort((a, b) => a - b);
}

/** The configuration without the given ids (for a forced edit). */
export function withoutIds(ms: Members, ids: readonly number[]): Members {
  return ms.filter((m) => !ids.includes(m.id));
}
