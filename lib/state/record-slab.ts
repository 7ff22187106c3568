/**
 * Record bytes kept in a few large arrays instead of one Uint8Array each. A
 * server's start holds every key ring as its record's bytes until first used
 * (key-rings.ts); as a Uint8Array each, a ring cost an object and a separate
 * allocation besides its bytes, which fragmented the heap (RSS ~1 KB per
 * key). Here a record is a number (a handle: no object at all) and its bytes
 * sit in 1 MiB chunks, length-prefixed, after the name it was stored under
 * (ASCII, so the names need no string of their own: name-table.ts). Bytes
 * are never moved or freed one by one: the slab lives as long as the rings
 * that were read at start, and wipe() zeroes all of it at shutdown.
 *
 * Entry: record length u32 ‖ name length u8 ‖ name (ASCII) ‖ record.
 */

/** Bytes per chunk; a record larger than a chunk gets a chunk of its own. */
const CHUNK = 1 << 20;
const PREFIX = 5;
/** Handles are kept as u32 (name-table.ts): the slab holds at most 4 GiB (some 40M rings of ~100 bytes). */
const MAX_HANDLE = 2 ** 32 - 2;

/** Whether `name` can be stored with a record: ASCII, at most 255 characters (kms's names are; others are held elsewhere). */
export function storableName(name: string): boolean {
  if (name.length > 255) return false;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) return false;
  return true;
}

export class RecordSlab {
  readonly #chunks: Uint8Array[] = [];
  /** The chunk records are appended to, and how much of it is used. */
  #current = -1;
  #used = CHUNK;

  /** Copies `bytes` in, after `name` (storableName); returns the handle that get() takes. */
  add(bytes: Uint8Array, name = ""): number {
    const m = name.length, need = PREFIX + m + bytes.length;
    let index: number, offset: number;
    if (need > CHUNK) {
      index = this.#chunks.push(new Uint8Array(need)) - 1;
      offset = 0;
    } else {
      if (this.#used + need > CHUNK) {
        this.#current = this.#chunks.push(new Uint8Array(CHUNK)) - 1;
        this.#used = 0;
      }
      index = this.#current;
      offset = this.#used;
      this.#used += need;
    }
    const handle = index * CHUNK + offset;
    if (handle > MAX_HANDLE) throw new RangeError("record slab: more than 4 GiB of records");
    const chunk = this.#chunks[index];
    const n = bytes.length;
    chunk[offset] = n >>> 24;
    chunk[offset + 1] = n >>> 16;
    chunk[offset + 2] = n >>> 8;
    chunk[offset + 3] = n;
    chunk[offset + 4] = m;
    for (let i = 0; i < m; i++) chunk[offset + PREFIX + i] = name.charCodeAt(i);
    chunk.set(bytes, offset + PREFIX + m);
    return handle;
  }

  /** The record bytes of a handle, as a view into the slab (zeroed by wipe()). */
  get(handle: number): Uint8Array {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], offset = handle % CHUNK;
    const n = (chunk[offset] << 24 | chunk[offset + 1] << 16 | chunk[offset + 2] << 8 | chunk[offset + 3]) >>> 0;
    const from = offset + PREFIX + chunk[offset + 4];
    return chunk.subarray(from, from + n);
  }

  /** The chunk holding a handle's record, and (recordAt) where in it the record starts: its bytes read in place, without a view. */
  chunkOf(handle: number): Uint8Array {
    return this.#chunks[Math.floor(handle / CHUNK)];
  }

  /** Where a handle's record starts in chunkOf(handle). */
  recordAt(handle: number): number {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], offset = handle % CHUNK;
    return offset + PREFIX + chunk[offset + 4];
  }

  /** The first byte of a handle's record (what kind of record it is), without a view. */
  firstByte(handle: number): number {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], offset = handle % CHUNK;
    return chunk[offset + PREFIX + chunk[offset + 4]];
  }

  /** The name a handle's record was stored under. */
  name(handle: number): string {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], at = handle % CHUNK + PREFIX;
    return String.fromCharCode.apply(null, chunk.subarray(at, at + chunk[at - 1]) as unknown as number[]);
  }

  /** Compares the name stored at `handle` with `name` as strings compare: < 0, 0 or > 0. */
  compareName(handle: number, name: string): number {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], at = handle % CHUNK + PREFIX, m = chunk[at - 1];
    const n = Math.min(m, name.length);
    for (let i = 0; i < n; i++) {
      const d = chunk[at + i] - name.charCodeAt(i);
      if (d !== 0) return d;
    }
    return m - name.length;
  }

  /** Compares the names stored at two handles: < 0, 0 or > 0. */
  compareNames(a: number, b: number): number {
    const ca = this.#chunks[Math.floor(a / CHUNK)], cb = this.#chunks[Math.floor(b / CHUNK)];
    const ia = a % CHUNK + PREFIX, ib = b % CHUNK + PREFIX, ma = ca[ia - 1], mb = cb[ib - 1];
    const n = Math.min(ma, mb);
    for (let i = 0; i < n; i++) {
      const d = ca[ia + i] - cb[ib + i];
      if (d !== 0) return d;
    }
    return ma - mb;
  }

  /** hashName() of the name stored at `handle`. */
  nameHash(handle: number): number {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], at = handle % CHUNK + PREFIX, m = chunk[at - 1];
    let h = FNV_BASIS;
    for (let i = 0; i < m; i++) h = Math.imul(h ^ chunk[at + i], FNV_PRIME);
    return h >>> 0;
  }

  /** The arrays that hold every record added: zeroing them wipes the slab. */
  arrays(): readonly Uint8Array[] {
    return this.#chunks;
  }
}

const FNV_BASIS = 0x811c9dc5, FNV_PRIME = 0x01000193;

/** FNV-1a of a name's characters (as bytes: names in the slab are ASCII), equal to nameHash() of that name. */
export function hashName(name: string): number {
  let h = FNV_BASIS;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}
