/**
 * An enclave's key rings: a SortedMap (listing) whose rings read at start
 * stay as their record's bytes until first used, and which indexes the names
 * of the rings with a lifecycle (a state, rotation, deletion date or tags).
 *
 * - Read on first use: parsing every ring's JSON at start (JSON, valibot,
 *   base64, five objects per key) was a third of a start-up; a ring is
 *   parsed when a request, a listing page, a backup or a due job first
 *   reads it. A ring whose record is compact (ring-codec.ts, ~1 µs to
 *   read) stays its bytes, with the last ones read kept parsed in a
 *   direct-mapped cache (the material of those it evicts goes to the
 *   node's wiper: takeDropped); one read from JSON is then kept parsed.
 * - Not even parsed to be used: GENERATE, ENCRYPT and DERIVE read a compact
 *   ring's latest version in place from the slab (latestInto), with its
 *   binding from a direct-mapped table, so a key used for the first time
 *   costs about what one used a moment ago does.
 * - No object per ring read at start: its bytes and its name sit in a
 *   RecordSlab (record-slab.ts), found through a NameTable (name-table.ts)
 *   of u32s. The Map this class extends holds only the rings set since
 *   start (creates, rotations) and names the slab cannot hold.
 * - The lifecycle index: the leader's due jobs (purges, automatic rotations)
 *   look at those rings every 500 ms; without it each round walked every
 *   key, 20–80 ms per round at 200,000 keys, most of a core at a million.
 */
import { BINDING_SIZE, keyBinding, keyBindingInto } from "../crypto/ciphertext.ts";
import { ringBinding } from "../crypto/keyring.ts";
import { NameTable } from "./name-table.ts";
import { hashName, RecordSlab, storableName } from "./record-slab.ts";
import { COMPACT, latestOfCompact, type UsedVersion } from "./ring-codec.ts";
import { SortedMap } from "./sorted-map.ts";
import type { KeyRing } from "./types.ts";

/**
 * Compact rings kept parsed at most (~0.4 KB each): a bound on the memory of
 * the rings in use. Direct-mapped by the ring's index at start, so a hit or a
 * replacement touches no Map (a ring in use at start order is never evicted
 * by another within CACHED of it).
 */
const CACHED = 65_536;
/** Evicted material arrays held for the wiper (at most twice as many); beyond, the oldest are left to the collector unzeroed (as before there was a wiper). */
const DROPPED = 65_536;

/** Parses a ring's record bytes (its name given); throws when they are not a ring of that name. */
export type RingParser = (name: string, bytes: Uint8Array) => KeyRing;

/** A ring with its binding (keyBinding of its enclave and name): what a command that encrypts or decrypts needs. */
export interface BoundRing {
  readonly ring: KeyRing;
  readonly binding: Uint8Array;
}

export class KeyRings extends SortedMap<KeyRing> {
  readonly #managed = new Set<string>();
  #parse: RingParser | undefined;
  /** The bytes and names of the rings read at start (shared with copies: bytes in it change only when wiped). */
  #slab: RecordSlab | undefined;
  /** The rings read at start and neither replaced nor deleted since, by name. */
  #names: NameTable | undefined;
  /** Rings read at start from JSON and parsed since, by index (kept parsed: those have a lifecycle). */
  #parsed = new Map<number, KeyRing>();
  /** Where in the slab the rings replaced since start were read from (their bytes are zeroed when they go). */
  readonly #from = new Map<string, number>();
  /**
   * Compact rings read lately: slot index % CACHED holds the ring of that
   * index with its binding (or undefined). The binding is made with the ring:
   * a WeakMap entry per ring (ringBinding) cost more than the parse.
   */
  #cache: (BoundRing | undefined)[] | undefined;
  #cacheOf: Int32Array | undefined;
  /**
   * The bindings latestInto() made lately, direct-mapped like the cache:
   * slot i % CACHED holds index i's when #boundOf says so (2.25 MB at most, no
   * object: nothing for the collector to trace or move).
   */
  #bindings: Uint8Array | undefined;
  #boundOf: Int32Array | undefined;
  /** The material of cached rings evicted by others, not yet taken for the wiper (takeDropped). */
  #dropped: Uint8Array[] = [];

  override get size(): number {
    return (this.#names?.size ?? 0) + super.size;
  }

  override set(name: string, ring: KeyRing): this {
    this.#mark(name, !!ring.lifecycle);
    const i = this.#names?.find(name) ?? -1;
    if (i >= 0) {
      this.#from.set(name, this.#names!.handle(i));
      this.#drop(i);
    }
    return super.set(name, ring);
  }

  /**
   * Adds a ring as its record's bytes, parsed by `parse` on first use; false
   * (and nothing changes) when the map holds `name` already.
   * `managed`: whether it may have a lifecycle (a superset is harmless).
   */
  addRecord(name: string, bytes: Uint8Array, managed: boolean, parse: RingParser): boolean {
    if (!storableName(name)) {
      if (super.has(name)) return false;
      super.set(name, parse(name, bytes));
    } else {
      if (super.has(name)) return false;
      const slab = this.#slab ??= new RecordSlab();
      const names = this.#names ??= new NameTable(slab);
      // One probe: a start reads a million names.
      if (names.add(name, hashName(name), () => slab.add(bytes, name)) < 0) return false;
    }
    this.#parse = parse;
    this.#mark(name, managed);
    return true;
  }

  override has(name: string): boolean {
    return (this.#names !== undefined && this.#names.find(name) >= 0) || super.has(name);
  }

  override get(name: string): KeyRing | undefined {
    const i = this.#names === undefined ? -1 : this.#names.find(name);
    return i >= 0 ? this.#read(i, name).ring : super.get(name);
  }

  /** The ring `name` with its binding; one lookup, and no WeakMap entry for a ring read at start. */
  bound(name: string): BoundRing | undefined {
    const i = this.#names === undefined ? -1 : this.#names.find(name);
    if (i >= 0) return this.#read(i, name);
    const ring = super.get(name);
    return ring && { ring, binding: ringBinding(ring) };
  }

  /**
   * The latest version of the ring `name` of enclave `enclave`, when it was
   * read at start in compact form (so it has no lifecycle: it is usable),
   * read in place from the slab into `into`, its binding into `binding`: no
   * parse, no cache entry, nothing allocated, so a ring used for the first
   * time costs about what one used a moment ago does (GENERATE over many
   * keys). False for any other ring: the caller reads it whole.
   */
  latestInto(enclave: string, name: string, into: UsedVersion, binding: Uint8Array): boolean {
    const i = this.#names === undefined ? -1 : this.#names.find(name);
    if (i < 0) return false;
    const slab = this.#slab!, handle = this.#names!.handle(i), chunk = slab.chunkOf(handle), at = slab.recordAt(handle);
    if (chunk[at] !== COMPACT || !latestOfCompact(chunk, at, into)) return false;
    const slot = i % CACHED, o = slot * BINDING_SIZE;
    const bindings = this.#bindings ??= new Uint8Array(CACHED * BINDING_SIZE), of = this.#boundOf ??= new Int32Array(CACHED).fill(-1);
    if (of[slot] === i) {
      for (let k = 0; k < BINDING_SIZE; k++) binding[k] = bindings[o + k];
    } else {
      bindings.set(keyBindingInto(enclave, name, binding), o);
      of[slot] = i;
    }
    return true;
  }

  override delete(name: string): boolean {
    this.#managed.delete(name);
    this.#from.delete(name);
    const i = this.#names?.find(name) ?? -1;
    if (i < 0) return super.delete(name);
    this.#drop(i);
    return true;
  }

  override clear(): void {
    this.#managed.clear();
    this.#from.clear();
    this.#parsed.clear();
    this.#cache = this.#cacheOf = this.#boundOf = undefined;
    this.#dropped = [];
    this.#names = undefined;
    super.clear();
  }

  /**
   * Every ring; one not in the cache is parsed without entering it: a walk
   * (a snapshot, an enclave's deletion) would only evict the rings in use,
   * and an enclave deleted for recovery keeps the rings it walked, which an
   * eviction must never hand to the wiper.
   */
  override *entries(): MapIterator<[string, KeyRing]> {
    if (this.#names) {
      for (const i of this.#names.indices()) {
        const name = this.#names.name(i);
        yield [name, this.#cacheOf?.[i % CACHED] === i ? this.#cache![i % CACHED]!.ring : this.#parseAt(i, name)];
      }
    }
    yield* super.entries();
  }

  override *keys(): MapIterator<string> {
    if (this.#names) for (const i of this.#names.indices()) yield this.#names.name(i);
    yield* super.keys();
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

  /** The present names ≥ `from`, in order: those read at start merged with those set since. */
  override *ordered(from: string): Generator<string> {
    const later = super.ordered(from);
    if (!this.#names) return yield* later;
    const names = this.#names, start = names.from(from);
    let a = start.next(), b = later.next();
    let an = a.done ? "" : names.name(a.value);
    // A name is in one of the two, never both (set() and delete() keep it so).
    while (!a.done || !b.done) {
      if (b.done || (!a.done && an < b.value)) {
        yield an;
        a = start.next();
        if (!a.done) an = names.name(a.value);
      } else {
        yield b.value;
        b = later.next();
      }
    }
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
    if (this.#names) for (const i of this.#names.indices()) yield this.#parsed.get(i) ?? this.#slab!.get(this.#names.handle(i));
    yield* super.values();
  }

  /** The compact rings read lately and held parsed for a while (their material is zeroed at shutdown). */
  *cached(): Generator<KeyRing> {
    for (const held of this.#cache ?? []) if (held) yield held.ring;
  }

  /** Whether rings were evicted from the cache since the last takeDropped(). */
  get hasDropped(): boolean {
    return this.#dropped.length > 0;
  }

  /**
   * The material of the cached rings evicted since the last call, to zero
   * once no request holds them (the node's wiper; a request may hold a ring
   * across an await). An evicted ring was in no other structure: a ring
   * that goes into one (a replaced or deleted key's) leaves the cache then,
   * by set() or delete(), and is never evicted.
   */
  takeDropped(): Uint8Array[] {
    const out = this.#dropped;
    this.#dropped = [];
    return out;
  }

  /** The material takeDropped() would give, without taking it (zeroed at shutdown). */
  dropped(): readonly Uint8Array[] {
    return this.#dropped;
  }

  /** The arrays holding the bytes of every ring read at start, parsed since or not (to zero them at shutdown). */
  recordBytes(): readonly Uint8Array[] {
    return this.#slab?.arrays() ?? [];
  }

  /** The slab bytes the ring `name` was read from at start, parsed since or not (none: it was set since); zeroed when it goes for good. */
  recordBytesOf(name: string): Uint8Array[] {
    const i = this.#names?.find(name) ?? -1;
    const handle = i >= 0 ? this.#names!.handle(i) : this.#from.get(name);
    return handle === undefined ? [] : [this.#slab!.get(handle)];
  }

  /** A copy that later changes to this map do not reach (rings still unparsed stay so in both). */
  copy(): KeyRings {
    const out = new KeyRings();
    out.#parse = this.#parse;
    out.#slab = this.#slab;
    out.#names = this.#names?.copy();
    out.#parsed = new Map(this.#parsed);
    for (const [name, ring] of super.entries()) out.#hold(name, ring);
    for (const name of this.#managed) out.#managed.add(name);
    return out;
  }

  /** Keeps the lifecycle index true for `name`. */
  #mark(name: string, managed: boolean): void {
    if (managed) this.#managed.add(name);
    else this.#managed.delete(name);
  }

  #hold(name: string, ring: KeyRing): void {
    super.set(name, ring);
  }

  /** Index `i` read at start goes (deleted or replaced). */
  #drop(i: number): void {
    this.#uncache(i);
    this.#parsed.delete(i);
    this.#names!.remove(i);
  }

  #uncache(i: number): void {
    const slot = i % CACHED;
    if (this.#cacheOf?.[slot] === i) {
      this.#cache![slot] = undefined;
      this.#cacheOf[slot] = -1;
    }
  }

  /**
   * A ring read at start, parsed. A JSON record (~10–20 µs to parse) is then
   * kept parsed; a compact one (~1 µs) stays a handle and is cached, so the
   * memory of rings in use stays bounded however many are used.
   */
  #read(i: number, name?: string): BoundRing {
    const slot = i % CACHED;
    if (this.#cacheOf?.[slot] === i) return this.#cache![slot]!;
    const handle = this.#names!.handle(i);
    if (this.#slab!.firstByte(handle) !== COMPACT) {
      const ring = this.#parseAt(i, name);
      return { ring, binding: ringBinding(ring) };
    }
    const ring = this.#parse!(name ?? this.#names!.name(i), this.#slab!.get(handle));
    const held = { ring, binding: keyBinding(ring.enclave, ring.name) };
    const cache = this.#cache ??= new Array<BoundRing | undefined>(CACHED).fill(undefined);
    this.#cacheOf ??= new Int32Array(CACHED).fill(-1);
    // The ring the slot held goes to the wiper through takeDropped(), not zeroed here: a request may still hold it.
    const evicted = cache[slot];
    if (evicted) {
      for (const v of evicted.ring.versions) this.#dropped.push(v.material);
      // Nobody takes them (a state no node serves): keep the newest, in amortized O(1).
      if (this.#dropped.length >= 2 * DROPPED) this.#dropped = this.#dropped.slice(DROPPED);
    }
    cache[slot] = held;
    this.#cacheOf[slot] = i;
    return held;
  }

  /** The ring of index `i` read at start, parsed (a JSON one is then kept parsed; a compact one is the caller's to cache). */
  #parseAt(i: number, name?: string): KeyRing {
    const handle = this.#names!.handle(i);
    if (this.#slab!.firstByte(handle) === COMPACT) return this.#parse!(name ?? this.#names!.name(i), this.#slab!.get(handle));
    let ring = this.#parsed.get(i);
    if (!ring) this.#parsed.set(i, ring = this.#parse!(name ?? this.#names!.name(i), this.#slab!.get(handle)));
    return ring;
  }
}
