/**
 * The replication core's durable state as encrypted store records: `r/hard`,
 * `r/snap` and one `r/e/<index>` per log entry, written in one transaction
 * per Ready, exactly in the order the core documents.
 */
import type { Store } from "../store/store.ts";
import type { RaftStorage } from "../cluster/storage.ts";
import type { Durable, Entry, HardState, Persist, Snapshot } from "../cluster/types.ts";
import { fromJson, toJson } from "./seal.ts";

const HARD = "r/hard";
const SNAP = "r/snap";
const entryKey = (index: number) => `r/e/${index}`;
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (value: unknown) => enc.encode(toJson(value));


/** Whether `next` differs from `prev` in the commit index only. */
function onlyCommitMoved(prev: HardState, next: HardState): boolean {
  return prev.term === next.term && prev.vote === next.vote && prev.edit === next.edit &&
    prev.markers === next.markers;
}

/** RaftStorage over the node's encrypted store. */
export class RecordStorage<C> implements RaftStorage<C> {
  readonly #store: Store;
  #durable: Durable<C>;
  /** Indexes of the entries on disk, so truncation knows what to delete. */
  #first: number;
  #last: number;
  /** The hard state last written, to tell a change of the commit index alone. */
  #hard: HardState;

  /** Storage holding `durable` (already on disk, or written by reset()). */
  constructor(store: Store, durable: Durable<C>) {
    this.#store = store;
    this.#durable = durable;
    this.#hard = durable.hard;
    this.#first = durable.entries[0]?.index ?? durable.snapshot.index + 1;
    this.#last = durable.entries.at(-1)?.index ?? durable.snapshot.index;
  }

  /** Reads the durable replication state from a node's records; undefined if it has none. */
  static read<C>(records: Map<string, Uint8Array>): Durable<C> | undefined {
    const hard = records.get(HARD), snap = records.get(SNAP);
    if (!hard || !snap) return undefined;
    const entries: Entry<C>[] = [];
    for (const [key, value] of records) if (key.startsWith("r/e/")) entries.push(fromJson(dec.decode(value)) as Entry<C>);
    entries.sort((a, b) => a.index - b.index);
    return { hard: fromJson(dec.decode(hard)) as HardState, snapshot: fromJson(dec.decode(snap)) as Snapshot, entries };
  }

  /** Replaces everything on disk by `durable` (a new or a joining node), with `extra` records in the same transaction. */
  async reset(durable: Durable<C>, extra: ReadonlyArray<readonly [string, Uint8Array | null]> = []): Promise<void> {
    const changes: Array<readonly [string, Uint8Array | null]> = [...extra];
    for (let i = this.#first; i <= this.#last; i++) changes.push([entryKey(i), null]);
    changes.push([HARD, bytes(durable.hard)], [SNAP, bytes(durable.snapshot)]);
    for (const e of durable.entries) changes.push([entryKey(e.index), bytes(e)]);
    await this.#store.write(changes);
    this.#durable = durable;
    this.#hard = durable.hard;
    this.#first = durable.entries[0]?.index ?? durable.snapshot.index + 1;
    this.#last = durable.entries.at(-1)?.index ?? durable.snapshot.index;
  }

  load(): Durable<C> {
    return this.#durable;
  }

  async write(p: Persist<C>): Promise<void> {
    const changes: Array<readonly [string, Uint8Array | null]> = [];
    let first = this.#first, last = this.#last;
    if (p.snapshot) {
      changes.push([SNAP, bytes(p.snapshot)]);
      for (let i = first; i <= Math.min(last, p.snapshot.index); i++) changes.push([entryKey(i), null]);
      first = p.snapshot.index + 1;
      last = Math.max(last, p.snapshot.index);
    }
    if (p.truncateFrom !== null) {
      for (let i = Math.max(first, p.truncateFrom); i <= last; i++) changes.push([entryKey(i), null]);
      last = Math.min(last, p.truncateFrom - 1);
    }
    for (const e of p.entries) {
      changes.push([entryKey(e.index), bytes(e)]);
      last = e.index;
    }
    if (p.hard) changes.push([HARD, bytes(p.hard)]);
    if (changes.length === 0) return;
    // As etcd's MustSync: a new commit index alone need not reach the disk before
    // anything else happens (a restarted node learns it again from the log and its
    // peers), so it rides unsynced until the next durable write carries it along.
    const durable = changes.length > 1 || !p.hard || !onlyCommitMoved(this.#hard, p.hard);
    await this.#store.write(changes, durable);
    this.#first = Math.min(first, last + 1);
    this.#last = last;
    if (p.hard) this.#hard = p.hard;
  }
}
