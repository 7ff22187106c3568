/**
 * The in-memory log of one node: entries after the last snapshot, which of
 * them are durable, and where the membership-change entries sit. It never
 * decides anything; the role functions do.
 */
import type { ConfChange, Entry } from "./types.ts";

/** A membership change and where it sits in the log. */
export interface ConfAt {
  readonly index: number;
  readonly change: ConfChange;
}

/** Entries after a snapshot point, with durability bookkeeping for Ready. */
export class RaftLog<C> {
  #snapIndex: number;
  #snapTerm: number;
  #entries: Entry<C>[];
  #conf: ConfAt[] = [];
  /** Last index known durable (everything loaded at start is). */
  #stable: number;
  /** Lowest index dropped from durable storage since the last Ready, if any. */
  #truncatedFrom: number | null = null;

  /** A log whose durable part starts after (snapIndex, snapTerm) and holds `entries`. */
  constructor(snapIndex: number, snapTerm: number, entries: readonly Entry<C>[]) {
    this.#snapIndex = snapIndex;
    this.#snapTerm = snapTerm;
    this.#entries = [];
    this.append(entries);
    this.#stable = this.lastIndex;
  }

  /** Index of the last entry covered by the snapshot. */
  get snapIndex(): number {
    return this.#snapIndex;
  }

  /** Index of the last entry (the snapshot's if the log is empty). */
  get lastIndex(): number {
    return this.#snapIndex + this.#entries.length;
  }

  /** Term of the last entry. */
  get lastTerm(): number {
    return this.#entries.length ? this.#entries[this.#entries.length - 1].term : this.#snapTerm;
  }

  /** Last index that is durable. */
  get stable(): number {
    return this.#stable;
  }

  /** Membership-change entries in the log, ascending. */
  get confs(): readonly ConfAt[] {
    return this.#conf;
  }

  /** Term of the entry at `i`; undefined if compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.#snapIndex) return this.#snapTerm;
    if (i < this.#snapIndex || i > this.lastIndex) return undefined;
    return this.#entries[i - this.#snapIndex - 1].term;
  }

  /** The entry at `i`, if held in memory. */
  entry(i: number): Entry<C> | undefined {
    if (i <= this.#snapIndex || i > this.lastIndex) return undefined;
    return this.#entries[i - this.#snapIndex - 1];
  }

  /** Entries with lo <= index < hi (clamped to what is held). */
  slice(lo: number, hi: number): Entry<C>[] {
    const a = Math.max(lo, this.#snapIndex + 1) - this.#snapIndex - 1;
    const b = Math.min(hi, this.lastIndex + 1) - this.#snapIndex - 1;
    return a < b ? this.#entries.slice(a, b) : [];
  }

  /** Appends entries that continue the log exactly. */
  append(entries: readonly Entry<C>[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex + 1) throw new Error(`cluster: log append at ${e.index}, expected ${this.lastIndex + 1}`);
      this.#entries.push(e);
      if (e.type === "conf") this.#conf.push({ index: e.index, change: e.change });
    }
  }

  /** Drops every entry with index >= i. */
  truncateFrom(i: number): void {
    if (i <= this.#snapIndex) throw new Error(`cluster: truncate at ${i} inside the snapshot (${this.#snapIndex})`);
    if (i > this.lastIndex) return;
    this.#entries.length = i - this.#snapIndex - 1;
    while (this.#conf.length && this.#conf[this.#conf.length - 1].index >= i) this.#conf.pop();
    if (i <= this.#stable) {
      this.#stable = i - 1;
      this.#truncatedFrom = Math.min(this.#truncatedFrom ?? i, i);
    }
  }

  /** Forgets durable entries up to `index` (now covered by a snapshot). */
  compact(index: number): void {
    if (index <= this.#snapIndex) return;
    if (index > this.#stable) throw new Error(`cluster: compact to ${index} beyond durable ${this.#stable}`);
    const term = this.term(index)!;
    this.#entries = this.#entries.slice(index - this.#snapIndex);
    this.#conf = this.#conf.filter((c) => c.index > index);
    this.#snapIndex = index;
    this.#snapTerm = term;
  }

  /** Replaces the whole log by a received snapshot point; storage must drop every entry. */
  restore(index: number, term: number): void {
    this.#entries = [];
    this.#conf = [];
    this.#snapIndex = index;
    this.#snapTerm = term;
    this.#stable = index;
    this.#truncatedFrom = index + 1;
  }

  /** True if a log ending at (lastIndex, lastTerm) is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** True if something must still be written to durable storage. */
  hasUnstable(): boolean {
    return this.#truncatedFrom !== null || this.#stable < this.lastIndex;
  }

  /** What to write for the next Ready: a truncation point and the entries to append. */
  unstable(): { truncateFrom: number | null; entries: Entry<C>[] } {
    return { truncateFrom: this.#truncatedFrom, entries: this.slice(this.#stable + 1, this.lastIndex + 1) };
  }

  /** Records that everything up to `index` is durable (after the driver wrote a Ready). */
  markStable(index: number): void {
    this.#stable = Math.min(index, this.lastIndex);
    this.#truncatedFrom = null;
  }
}
