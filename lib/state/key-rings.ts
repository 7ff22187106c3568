/**
 * An enclave's key rings: a SortedMap (listing) whose rings read at start
 * stay as their record's bytes until first used, and which indexes the names
 * of the rings with a lifecycle (a state, rotation, deletion date or tags).
 *
 * - Read on first use: parsing every ring's JSON at start (JSON, valibot,
 *   base64, five objects per key) was a third of a start-up; a ring is
 *   parsed when a request, a listing page, a backup or a due job first
 *   reads it. A ring whose record is compact (ring-codec.ts, ~1 µs to
 *   read) stays its bytes, with the last CACHED read kept parsed; one read
 *   from JSON is then kept parsed. The bytes sit in a RecordSlab
 *   (record-slab.ts): a ring held as bytes is a number, not an object.
 * - The lifecycle index: the leader's due jobs (purges, automatic rotations)
 *   look at those rings every 500 ms; without it each round walked every
 *   key, 20–80 ms per round at 200,000 keys, most of a core at a million.
 */
import { RecordSlab } from "./record-slab.ts";
import { COMPACT } from "./ring-codec.ts";
import { SortedMap } from "./sorted-map.ts";
import type { KeyRing } from "./types.ts";

/** Compact rings kept parsed at most (~0.4 KB each): a bound on the memory of the rings in use. */
const CACHED = 65_536;

/** A ring as held: parsed, or its record's bytes in the slab (a handle). */
type Held = KeyRing | number;
/** Parses a ring's record bytes (its name given); throws when they are not a ring of that name. */
export type RingParser = (name: string, bytes: Uint8Array) => KeyRing;

export class KeyRings extends SortedMap<KeyRing> {
  readonly #managed = new Set<string>();
  #parse: RingParser | undefined;
  /** The bytes of the rings read at start (shared with copies: bytes in it change only when wiped). */
  #slab: RecordSlab | undefined;
  /** Where in the slab the rings replaced since start were read from (their bytes are zeroed when they go). */
  readonly #from = new Map<string, number>();
  /** Compact rings read lately, by name (at most CACHED: the others are read again on use). */
  readonly #cache = new Map<string, KeyRing>();

  override set(name: string, ring: KeyRing): this {
    this.#mark(name, !!ring.lifecycle);
    const held = super.get(name) as Held | undefined;
    if (typeof held === "number") this.#from.set(name, held);
    this.#cache.delete(name);
    return super.set(name, ring);
  }

  /**
   * Adds a ring as its record's bytes, parsed by `parse` on first use.
   * `managed`: whether it may have a lifecycle (a superset is harmless).
   */
  setRecord(name: string, bytes: Uint8Array, managed: boolean, parse: RingParser): void {
    this.#parse = parse;
    this.#mark(name, managed);
    this.#hold(name, (this.#slab ??= new RecordSlab()).add(bytes));
  }

  override get(name: string): KeyRing | undefined {
    const held = super.get(name) as Held | undefined;
    return typeof held === "number" ? this.#read(name, held) : held;
  }

  override delete(name: string): boolean {
    this.#managed.delete(name);
    this.#from.delete(name);
    this.#cache.delete(name);
    return super.delete(name);
  }

  override clear(): void {
    this.#managed.clear();
    this.#from.clear();
    this.#cache.clear();
    super.clear();
  }

  override *entries(): MapIterator<[string, KeyRing]> {
    for (const [name, held] of super.entries() as MapIterator<[string, Held]>) {
      yield [name, typeof held === "number" ? this.#read(name, held) : held];
    }
  }

  override *values(): MapIterator<KeyRing> {
    for (const [, ring] of this.entries()) yield ring;
  }

  override [Symbol.iterator](): MapIterator<[string, KeyRing]> {
    return this.entries();
  }

  override forEach(each: (ring: KeyRing, name: string, map: Map<string, KeyRing>) => void, thisArg?: unknown): void {
    for (const [name, ring] of this.entries()) each.call(thisArg, ring, name, this);
  }

  /** The rings that have a lifecycle, by name, in no particular order. */
  *managed(): Generator<[string, KeyRing]> {
    for (const name of this.#managed) {
      const ring = this.get(name);
      if (ring) yield [name, ring];
    }
  }

  /** Every ring as held, without parsing any: a parsed ring, or its record's bytes (a view into the slab). */
  *held(): Generator<KeyRing | Uint8Array> {
    for (const held of super.values() as MapIterator<Held>) yield typeof held === "number" ? this.#slab!.get(held) : held;
  }

  /** The compact rings read lately and held parsed for a while (their material is zeroed at shutdown). */
  cached(): Iterable<KeyRing> {
    return this.#cache.values();
  }

  /** The arrays holding the bytes of every ring read at start, parsed since or not (to zero them at shutdown). */
  recordBytes(): readonly Uint8Array[] {
    return this.#slab?.arrays() ?? [];
  }

  /** The slab bytes the ring `name` was read from at start, parsed since or not (none: it was set since); zeroed when it goes for good. */
  recordBytesOf(name: string): Uint8Array[] {
    const held = super.get(name) as Held | undefined;
    const handle = typeof held === "number" ? held : this.#from.get(name);
    return handle === undefined ? [] : [this.#slab!.get(handle)];
  }

  /** A copy that later changes to this map do not reach (rings still unparsed stay so in both). */
  copy(): KeyRings {
    const out = new KeyRings();
    out.#parse = this.#parse;
    out.#slab = this.#slab;
    for (const [name, held] of super.entries() as MapIterator<[string, Held]>) out.#hold(name, held);
    for (const name of this.#managed) out.#managed.add(name);
    return out;
  }

  /** Keeps the lifecycle index true for `name`. */
  #mark(name: string, managed: boolean): void {
    if (managed) this.#managed.add(name);
    else this.#managed.delete(name);
  }

  #hold(name: string, held: Held): void {
    super.set(name, held as KeyRing);
  }

  /**
   * A held ring, parsed. A JSON record (~10–20 µs to parse) is then kept
   * parsed; a compact one (~1 µs) stays a handle and is cached, so the
   * memory of rings in use stays bounded however many are used.
   */
  #read(name: string, handle: number): KeyRing {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const bytes = this.#slab!.get(handle);
    const ring = this.#parse!(name, bytes);
    if (bytes[0] !== COMPACT) {
      this.#from.set(name, handle);
      super.set(name, ring);
      return ring;
    }
    // The oldest read goes first (a Map iterates in insertion order); a request still holding it keeps it intact.
    if (this.#cache.size >= CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(name, ring);
    return ring;
  }
}
