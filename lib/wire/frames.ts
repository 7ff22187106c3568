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
  const frames: Frame[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < HEADER) throw new FrameError("invalid request: truncated frame header");
    const id = (body[at] << 8) | body[at + 1];
    const length = ((body[at + 2] << 24) | (body[at + 3] << 16) | (body[at + 4] << 8) | body[at + 5]) >>> 0;
    at += HEADER;
    if (length > body.length - at) throw new FrameError("invalid request: frame length exceeds the request body");
    if (frames.length === maxFrames) throw new FrameError(`invalid request: more than ${maxFrames} frames`);
    frames.push({ id, payload: body.subarray(at, at + length) });
    at += length;
  }
  if (frames.length === 0) throw new FrameError("invalid request: empty request body");
  return frames;
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
    const n = f.payload.length;
    out[at] = f.id >>> 8;
    out[at + 1] = f.id;
    out[at + 2] = n >>> 24;
    out[at + 3] = n >>> 16;
    out[at + 4] = n >>> 8;
    out[at + 5] = n;
    out.set(f.payload, at + HEADER);
    at += HEADER + f.payload.length;
  }
  return out;
}
