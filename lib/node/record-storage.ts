/**
 * The replication core's durable state as encrypted store records: `r/hard`,
 * `r/snap` and the log entries, written in one transaction per Ready,
 * exactly in the order the core documents. The entries a Ready appends share
 * one record, `r/e/<first index>` holding a JSON array (up to ROW_ENTRIES),
 * so a Ready of 32 writes seals, hashes and stores one log row, not 32, and
 * compaction deletes one per batch (docs/performance.md, "Third changes").
 * A record holding one entry object (the format before) is read the same way.
 */
import type { Store } from "../store/store.ts";
import { onlyCommitMoved } from "../cluster/core.ts";
import type { RaftStorage } from "../cluster/storage.ts";
import type { Durable, Entry, HardState, Persist, Snapshot } from "../cluster/types.ts";
import { fromJson, toJson } from "./seal.ts";

const HARD = "r/hard";
const SNAP = "r/snap";
const ENTRIES = "r/e/";
const rowKey = (first: number) => `${ENTRIES}${first}`;
/** At most this many entries per log row, so a catching-up follower's large append is cut into rows of bounded size. */
export const ROW_ENTRIES = 256;
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (value: unknown) => enc.encode(toJson(value));

/** A log row on disk: its entries, contiguous, by index (the row's key names the first). */
type Row<C> = readonly Entry<C>[];

/** RaftStorage over the node's encrypted store. */
export class RecordStorage<C> implements RaftStorage<C> {
  readonly #store: Store;
  #durable: Durable<C>;
  /**
   * The log rows on disk in index order, with their entries, so that truncation and
   * compaction can cut a row short (rewriting what it keeps) rather than leave entries
   * behind: an entry compacted away must leave the disk (a deleted key's material).
   */
  #rows: Row<C>[];
  /** The hard state last written, to tell a change of the commit index alone. */
  #hard: HardState;

  /** Storage holding `durable` (already on disk as `rows`, or written by reset()). */
  constructor(store: Store, durable: Durable<C>, rows: Row<C>[] = []) {
    this.#store = store;
    this.#durable = durable;
    this.#hard = durable.hard;
    this.#rows = rows;
  }

  /** Reads the durable replication state from a node's records, with its log rows as on disk (for the constructor); undefined if it has none. */
  static read<C>(records: Map<string, Uint8Array>): { durable: Durable<C>; rows: Row<C>[] } | undefined {
    const hard = records.get(HARD), snap = records.get(SNAP);
    if (!hard || !snap) return undefined;
    const rows: Row<C>[] = [];
    for (const [key, value] of records) {
      if (!key.startsWith(ENTRIES)) continue;
      const row = fromJson(dec.decode(value)) as Entry<C> | Entry<C>[];
      rows.push(Array.isArray(row) ? row : [row]);
    }
    rows.sort((a, b) => a[0].index - b[0].index);
    const snapshot = fromJson(dec.decode(snap)) as Snapshot;
    return { durable: { hard: fromJson(dec.decode(hard)) as HardState, snapshot, entries: rows.flat() }, rows };
  }

  /** Replaces everything on disk by `durable` (a new or a joining node), with `extra` records in the same transaction. */
  async reset(durable: Durable<C>, extra: ReadonlyArray<readonly [string, Uint8Array | null]> = []): Promise<void> {
    const changes = new Map<string, Uint8Array | null>(extra);
    for (const row of this.#rows) changes.set(rowKey(row[0].index), null);
    changes.set(HARD, bytes(durable.hard)).set(SNAP, bytes(durable.snapshot));
    const rows = this.#append([], durable.entries, changes);
    await this.#store.write([...changes]);
    this.#durable = durable;
    this.#hard = durable.hard;
    this.#rows = rows;
  }

  load(): Durable<C> {
    return this.#durable;
  }

  async write(p: Persist<C>): Promise<void> {
    const changes = new Map<string, Uint8Array | null>();
    let rows = this.#rows;
    if (p.snapshot) rows = this.#cut(rows, (e) => e.index > p.snapshot!.index, changes);
    if (p.truncateFrom !== null) rows = this.#cut(rows, (e) => e.index < p.truncateFrom!, changes);
    rows = this.#append(rows, p.entries, changes);
    if (p.snapshot) changes.set(SNAP, bytes(p.snapshot));
    if (p.hard) changes.set(HARD, bytes(p.hard));
    if (changes.size === 0) return;
    // As etcd's MustSync: a new commit index alone need not reach the disk before
    // anything else happens (a restarted node learns it again from the log and its
    // peers), so it rides unsynced until the next durable write carries it along.
    const durable = changes.size > 1 || !p.hard || !onlyCommitMoved(this.#hard, p.hard);
    await this.#store.write([...changes], durable);
    this.#rows = rows;
    if (p.hard) this.#hard = p.hard;
  }

  /**
   * The rows keeping only the entries `keep` accepts (a prefix or a suffix of the
   * log): a row losing all of them is deleted, a row losing some is rewritten
   * (under its new first index) with the rest.
   */
  #cut(rows: Row<C>[], keep: (e: Entry<C>) => boolean, changes: Map<string, Uint8Array | null>): Row<C>[] {
    const out: Row<C>[] = [];
    for (const row of rows) {
      const kept = row.filter(keep);
      if (kept.length === row.length) {
        out.push(row);
        continue;
      }
      changes.set(rowKey(row[0].index), null);
      if (kept.length === 0) continue;
      changes.set(rowKey(kept[0].index), bytes(kept));
      out.push(kept);
    }
    return out;
  }

  /** The rows with `entries` (contiguous, after the last row's) added as new rows of at most ROW_ENTRIES. */
  #append(rows: Row<C>[], entries: readonly Entry<C>[], changes: Map<string, Uint8Array | null>): Row<C>[] {
    if (entries.length === 0) return rows;
    const out = [...rows];
    for (let i = 0; i < entries.length; i += ROW_ENTRIES) {
      const row = entries.slice(i, i + ROW_ENTRIES);
      changes.set(rowKey(row[0].index), bytes(row));
      out.push(row);
    }
    return out;
  }
}
