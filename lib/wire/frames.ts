/**
 * The native protocol's framing: `uint16 BE command id | uint32 BE length | message`.
 * Several frames in one body are a pipelined batch.
 */
import { Buffer } from "node:buffer";

export interface Frame {
  readonly id: number;
  readonly payload: Uint8Array;
}

const HEADER = 6;

/** Thrown when a body is not a well-formed sequence of frames. */
export class FrameError extends Error {}

// Headers are read and written byte by byte: a DataView needs the array's
// .buffer, which makes the runtime give a small array its own ArrayBuffer.

/** Splits a request body into frames; rejects truncated headers and lengths beyond the body. */
export function parseFrames(body: Uint8Array, maxFrames: number): Frame[] {
  const spans = frameSpans(body, maxFrames);
  const frames: Frame[] = [];
  for (let i = 0; i < spans.count; i++) frames.push({ id: spans.ids[i], payload: body.subarray(spans.starts[i], spans.ends[i]) });
  return frames;
}

/** Where each frame of a body is: its command id and its message's offsets, without a view per frame. */
export interface FrameSpans {
  readonly count: number;
  readonly ids: Uint16Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** Finds the frames of a request body (as parseFrames, whose checks these are). */
export function frameSpans(body: Uint8Array, maxFrames: number): FrameSpans {
  // A frame takes at least its header: no body holds more frames than that allows.
  const most = Math.min(maxFrames + 1, Math.floor(body.length / HEADER) + 1);
  const ids = new Uint16Array(most), starts = new Uint32Array(most), ends = new Uint32Array(most);
  let count = 0;
  let at = 0;
  while (at < body.length) {
    if (body.length - at < HEADER) throw new FrameError("invalid request: truncated frame header");
    const id = (body[at] << 8) | body[at + 1];
    const length = ((body[at + 2] << 24) | (body[at + 3] << 16) | (body[at + 4] << 8) | body[at + 5]) >>> 0;
    at += HEADER;
    if (length > body.length - at) throw new FrameError("invalid request: frame length exceeds the request body");
    if (count === maxFrames) throw new FrameError(`invalid request: more than ${maxFrames} frames`);
    ids[count] = id;
    starts[count] = at;
    ends[count] = at + length;
    count++;
    at += length;
  }
  if (count === 0) throw new FrameError("invalid request: empty request body");
  return { count, ids, starts, ends };
}

/** Joins frames into one body. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const f of frames) size += HEADER + f.payload.length;
  // A Buffer (not pooled; every byte is written below): a socket write takes it as it is,
  // where a plain Uint8Array is first wrapped in one through its .buffer, which the runtime
  // then has to give an ArrayBuffer of its own (a copy and an allocation per reply).
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const f of frames) {
    writeHeader(out, at, f.id, f.payload.length);
    out.set(f.payload, at + HEADER);
    at += HEADER + f.payload.length;
  }
  return out;
}

function writeHeader(out: Uint8Array, at: number, id: number, n: number): void {
  out[at] = id >>> 8;
  out[at + 1] = id;
  out[at + 2] = n >>> 24;
  out[at + 3] = n >>> 16;
  out[at + 4] = n >>> 8;
  out[at + 5] = n;
}

/** Bytes of one piece of a reply built by FramePieces (a frame larger than this has a piece of its own). */
export const FRAME_PIECE = 64 << 10;

/**
 * A reply's frames written as they are made into pieces of FRAME_PIECE
 * bytes: a 10,000-frame reply is never joined into one megabyte-long
 * buffer in one turn of the event loop (docs/performance.md, "Sixth
 * changes"), and a message can be written in place (proto.ts encodeFrame).
 */
export class FramePieces {
  readonly #pieces: Uint8Array[] = [];
  #chunk: Uint8Array | undefined;
  #at = 0;
  /** Bytes written so far. */
  length = 0;

  /**
   * Room for a frame of command `id` with a `size`-byte message, `left` frames
   * to come counting this one (to size the piece: one frame gets an exact one).
   * Gives the offset in `chunk` where the message goes.
   */
  reserve(id: number, size: number, left: number): number {
    const need = HEADER + size;
    if (!this.#chunk || this.#chunk.length - this.#at < need) {
      this.#close();
      // Unpooled: a socket write takes a Buffer as it is (see encodeFrames).
      this.#chunk = Buffer.allocUnsafeSlow(Math.max(need, Math.min(FRAME_PIECE, need * Math.max(1, left))));
      this.#at = 0;
    }
    writeHeader(this.#chunk, this.#at, id, size);
    const at = this.#at + HEADER;
    this.#at += need;
    this.length += need;
    return at;
  }

  /** The piece reserve() last made room in. */
  get chunk(): Uint8Array {
    return this.#chunk!;
  }

  /** Adds a frame with its message already encoded. */
  add(id: number, payload: Uint8Array, left: number): void {
    const at = this.reserve(id, payload.length, left);
    this.#chunk!.set(payload, at);
  }

  /** The pieces, in order; a reply of one piece is that piece. */
  finish(): Uint8Array | Uint8Array[] {
    this.#close();
    return this.#pieces.length === 1 ? this.#pieces[0] : this.#pieces;
  }

  #close(): void {
    const c = this.#chunk;
    if (c && this.#at > 0) this.#pieces.push(this.#at === c.length ? c : c.subarray(0, this.#at));
    this.#chunk = undefined;
  }
}
