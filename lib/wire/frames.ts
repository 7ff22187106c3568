/**
 * The native protocol's framing: `uint16 BE command id | uint32 BE length | message`.
 * Several frames in one body are a pipelined batch.
 */
export interface Frame {
  readonly id: number;
  readonly payload: Uint8Array;
}

const HEADER = 6;

/** Thrown when a body is not a well-formed sequence of frames. */
export class FrameError extends Error {}

/** Splits a request body into frames; rejects truncated headers and lengths beyond the body. */
export function parseFrames(body: Uint8Array, maxFrames: number): Frame[] {
  const frames: Frame[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  while (at < body.length) {
    if (body.length - at < HEADER) throw new FrameError("invalid request: truncated frame header");
    const id = view.getUint16(at);
    const length = view.getUint32(at + 2);
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
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of frames) {
    view.setUint16(at, f.id);
    view.setUint32(at + 2, f.payload.length);
    out.set(f.payload, at + HEADER);
    at += HEADER + f.payload.length;
  }
  return out;
}
