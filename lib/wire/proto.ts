import protobuf from "protobufjs";
import type { FramePieces } from "./frames.ts";
import { MINIO_KMS_PROTO, WELL_KNOWN_PROTO } from "./schema.ts";

const root = new protobuf.Root();
protobuf.parse(WELL_KNOWN_PROTO, root, { keepCase: true });
protobuf.parse(MINIO_KMS_PROTO, root, { keepCase: true });
root.resolveAll();

const types = new Map<string, protobuf.Type>();

/** The protobuf type `minio.kms.<name>`. */
export function messageType(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    t = root.lookupType(`minio.kms.${name}`);
    types.set(name, t);
  }
  return t;
}

/** Thrown when bytes are not a valid message of the expected type. */
export class InvalidMessageError extends Error {}

/** Decodes `bytes` as message `name` into a plain object with every field defaulted. */
export function decode(name: string, bytes: Uint8Array): Record<string, unknown> {
  return decodeIn(name, bytes, 0, bytes.length);
}

/** Decodes `buf[start, end)` as message `name`, as decode() does, reading it where it lies (no view of its own). */
export function decodeIn(name: string, buf: Uint8Array, start: number, end: number): Record<string, unknown> {
  const t = messageType(name);
  try {
    const reader = protobuf.Reader.create(buf);
    reader.pos = start;
    // protobufjs bounds every read by the length given (pieces.test.ts checks): nothing is read past `end`.
    const message = t.decode(reader, end - start);
    // Defaults make absent proto3 fields explicit, so validation sees every field.
    return t.toObject(message, { defaults: true, longs: Number, bytes: Uint8Array }) as Record<string, unknown>;
  } catch {
    throw new InvalidMessageError(`invalid ${name} message`);
  }
}

/** Adds `message` as message `name` in a frame of command `id` to `out` (`left` frames to come). */
export function encodeFrame(out: FramePieces, id: number, name: string, message: Record<string, unknown>, left: number): void {
  out.add(id, encode(name, message), left);
}

/** Encodes a plain object as message `name`. */
export function encode(name: string, message: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const t = messageType(name);
  return t.encode(t.fromObject(message)).finish() as Uint8Array<ArrayBuffer>;
}

/** A google.protobuf.Timestamp from milliseconds since the epoch. */
export function timestamp(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Milliseconds since the epoch from a decoded google.protobuf.Timestamp. */
export function fromTimestamp(ts: unknown): number {
  const t = ts as { seconds?: number; nanos?: number } | null | undefined;
  return (t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1_000_000);
}

/** A google.protobuf.Duration from milliseconds. */
export function duration(ms: number): { seconds: number; nanos: number } {
  return timestamp(ms);
}
