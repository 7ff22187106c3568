/**
 * Record bytes kept in a few large arrays instead of one Uint8Array each. A
 * server's start holds every key ring as its record's bytes until first used
 * (key-rings.ts); as a Uint8Array each, a ring cost an object and a separate
 * allocation besides its bytes, which fragmented the heap (RSS ~1 KB per
 * key). Here a record is a number (a handle: no object at all) and its bytes
 * sit in 1 MiB chunks, length-prefixed. Bytes are never moved or freed one by
 * one: the slab lives as long as the rings that were read at start, and
 * wipe() zeroes all of it at shutdown.
 */

/** Bytes per chunk; a record larger than a chunk gets a chunk of its own. */
const CHUNK = 1 << 20;
const PREFIX = 4;

export class RecordSlab {
  readonly #chunks: Uint8Array[] = [];
  /** The chunk records are appended to, and how much of it is used. */
  #current = -1;
  #used = CHUNK;

  /** Copies `bytes` in; returns the handle that get() takes. */
  add(bytes: Uint8Array): number {
    const need = PREFIX + bytes.length;
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
    const chunk = this.#chunks[index];
    const n = bytes.length;
    chunk[offset] = n >>> 24;
    chunk[offset + 1] = n >>> 16;
    chunk[offset + 2] = n >>> 8;
    chunk[offset + 3] = n;
    chunk.set(bytes, offset + PREFIX);
    return index * CHUNK + offset;
  }

  /** The bytes of a handle, as a view into the slab (zeroed by wipe()). */
  get(handle: number): Uint8Array {
    const chunk = this.#chunks[Math.floor(handle / CHUNK)], offset = handle % CHUNK;
    const n = (chunk[offset] << 24 | chunk[offset + 1] << 16 | chunk[offset + 2] << 8 | chunk[offset + 3]) >>> 0;
    return chunk.subarray(offset + PREFIX, offset + PREFIX + n);
  }

  /** The arrays that hold every record added: zeroing them wipes the slab. */
  arrays(): readonly Uint8Array[] {
    return this.#chunks;
  }
}
