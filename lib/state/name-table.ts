/**
 * The names of the key rings a server's start read, without a string or a
 * Map entry per name: each name lives in the record slab beside its record
 * (record-slab.ts), and this table finds it by an open-addressing hash of
 * u32 slots (O(1)), and lists it through an array of indices sorted by name
 * (built on the first listing, then O(log n + page)). Per name: a u32
 * handle, a byte, 2–4 u32 slots and a u32 in the sorted array, ~17–25 bytes, where
 * a string and a Map entry took ~100.
 *
 * Entries are only added at start; a name deleted or replaced since is
 * marked dead and stays in the sorted array (its name still in the slab, so
 * the array stays searchable), where walks skip it; lookups skip it too. The
 * caller holds names added later.
 */
import { hashName, type RecordSlab } from "./record-slab.ts";

export class NameTable {
  readonly #slab: RecordSlab;
  /** Per index: the handle of its record (and name) in the slab. */
  #handles = new Uint32Array(16);
  /** Per index: 1 once its name is gone. */
  #dead = new Uint8Array(16);
  #count = 0;
  #live = 0;
  /** Open addressing, linear probing: index + 1, or 0 for an empty slot. Kept at most half full. */
  #slots = new Uint32Array(32);
  /** Every index in name order (dead ones included); undefined until a listing needs it, and again after an add. */
  #sorted: Uint32Array | undefined;

  constructor(slab: RecordSlab) {
    this.#slab = slab;
  }

  /** Names present. */
  get size(): number {
    return this.#live;
  }

  /**
   * Adds `name` (whose hash is `hash`) with the handle `store()` gives (the
   * record stored with that name); returns its index, or -1 when the name is
   * present already (store() is then not called).
   */
  add(name: string, hash: number, store: () => number): number {
    if (this.#count === this.#handles.length) {
      const grown = new Uint32Array(this.#count * 2), dead = new Uint8Array(this.#count * 2);
      grown.set(this.#handles);
      dead.set(this.#dead);
      this.#handles = grown;
      this.#dead = dead;
    }
    if ((this.#count + 1) * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    const slots = this.#slots, mask = slots.length - 1;
    let s = hash & mask;
    for (let at = slots[s]; at !== 0; s = (s + 1) & mask, at = slots[s]) {
      if (this.#dead[at - 1] === 0 && this.#slab.compareName(this.#handles[at - 1], name) === 0) return -1;
    }
    const i = this.#count++;
    this.#handles[i] = store();
    this.#live++;
    slots[s] = i + 1;
    this.#sorted = undefined;
    return i;
  }

  /** The index of the live name `name`, or -1. */
  find(name: string): number {
    const slots = this.#slots, mask = slots.length - 1;
    for (let s = hashName(name) & mask; ; s = (s + 1) & mask) {
      const at = slots[s];
      if (at === 0) return -1;
      if (this.#dead[at - 1] === 0 && this.#slab.compareName(this.#handles[at - 1], name) === 0) return at - 1;
    }
  }

  /** The record handle of the live index `i`. */
  handle(i: number): number {
    return this.#handles[i];
  }

  /** The name of index `i`. */
  name(i: number): string {
    return this.#slab.name(this.#handles[i]);
  }

  /** Marks the live index `i` gone. */
  remove(i: number): void {
    this.#dead[i] = 1;
    this.#live--;
  }

  /** The live indices, in the order they were added. */
  *indices(): Generator<number> {
    for (let i = 0; i < this.#count; i++) if (this.#dead[i] === 0) yield i;
  }

  /** The live indices whose name is ≥ `from`, in name order. */
  *from(from: string): Generator<number> {
    const sorted = this.#sorted ??= this.#sort();
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#slab.compareName(this.#handles[sorted[mid]], from) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < sorted.length; k++) if (this.#dead[sorted[k]] === 0) yield sorted[k];
  }

  /** A copy that later changes to this table do not reach (the slab is shared: its bytes change only when wiped). */
  copy(): NameTable {
    const out = new NameTable(this.#slab);
    out.#handles = this.#handles.slice();
    out.#dead = this.#dead.slice();
    out.#count = this.#count;
    out.#live = this.#live;
    out.#slots = this.#slots.slice();
    out.#sorted = this.#sorted; // never changed in place: an add makes a new one
    return out;
  }

  #sort(): Uint32Array {
    const handles = this.#handles, slab = this.#slab;
    return new Uint32Array(this.#count).map((_, i) => i).sort((a, b) => slab.compareNames(handles[a], handles[b]));
  }

  #place(i: number, hash: number): void {
    const slots = this.#slots, mask = slots.length - 1;
    let s = hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = i + 1;
  }

  #rehash(size: number): void {
    this.#slots = new Uint32Array(size);
    // Dead indices stay out: find() would skip them anyway.
    for (let i = 0; i < this.#count; i++) if (this.#dead[i] === 0) this.#place(i, this.#slab.nameHash(this.#handles[i]));
  }
}
