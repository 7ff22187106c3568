/**
 * Durable storage of one node's replication state, kept narrow on purpose:
 * load everything once at start, then write one Ready's Persist atomically.
 * MemoryStorage serves the simulator and tests; a libSQL one serves the server.
 */
import { type Durable, type Entry, type HardState, type Members, NONE, type Persist, type Snapshot } from "./types.ts";

/** What the core needs from a disk. */
export interface RaftStorage<C> {
  /** Everything made durable so far. */
  load(): Durable<C> | Promise<Durable<C>>;
  /** Makes one Persist durable, all or nothing, in its documented order. */
  write(p: Persist<C>): void | Promise<void>;
}

/** The hard state of a node that has never voted nor seen a term. */
export const EMPTY_HARD: HardState = { term: 0, vote: NONE, commit: 0, markers: [], edit: null };

/** Durable state for the first node(s) of a new cluster: `members` and the application's empty state. */
export function bootstrapState<C>(members: Members, data: Uint8Array): Durable<C> {
  if (members.length === 0) throw new Error("cluster: a new cluster needs at least one member");
  return { hard: EMPTY_HARD, snapshot: { index: 0, term: 0, members, data }, entries: [] };
}

/** Durable state for a fresh node that will join an existing cluster (it waits for a snapshot). */
export function freshState<C>(): Durable<C> {
  return { hard: EMPTY_HARD, snapshot: { index: 0, term: 0, members: [], data: new Uint8Array(0) }, entries: [] };
}

/** Storage in memory: what survives a simulated crash is exactly what was written. */
export class MemoryStorage<C> implements RaftStorage<C> {
  #hard: HardState;
  #snapshot: Snapshot;
  #entries: Entry<C>[];

  /** Storage holding `initial` (what a new node starts from). */
  constructor(initial: Durable<C>) {
    this.#hard = initial.hard;
    this.#snapshot = initial.snapshot;
    this.#entries = [...initial.entries];
  }

  /** A copy of everything written. */
  load(): Durable<C> {
    return { hard: this.#hard, snapshot: this.#snapshot, entries: [...this.#entries] };
  }

  /** Applies a Persist: snapshot, truncation, append, hard state. */
  write(p: Persist<C>): void {
    if (p.snapshot && p.snapshot.index >= this.#snapshot.index) {
      this.#snapshot = p.snapshot;
      this.#entries = this.#entries.filter((e) => e.index > p.snapshot!.index);
    }
    if (p.truncateFrom !== null) this.#entries = this.#entries.filter((e) => e.index < p.truncateFrom!);
    const last = this.#entries.length ? this.#entries[this.#entries.length - 1].index : this.#snapshot.index;
    if (p.entries.length && p.entries[0].index !== last + 1) {
      throw new Error(`cluster: storage append at ${p.entries[0].index}, expected ${last + 1}`);
    }
    for (const e of p.entries) this.#entries.push(e);
    if (p.hard) this.#hard = p.hard;
  }

  /** Number of entries held (for tests). */
  get size(): number {
    return this.#entries.length;
  }
}
