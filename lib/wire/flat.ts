/**
 * A hand codec for flat messages (every field a singular string, uint32 or
 * bytes: GenerateKeyRequest, GenerateKeyResponse, EncryptRequest, …), the
 * messages a pipelined batch carries thousands of. It reads a message in
 * place in the request body and writes one in place in the reply, where
 * protobufjs gives each message a Reader, a Writer and buffers of its own
 * (a third of the server's work per frame besides the crypto). It answers
 * only the plain cases, exactly as protobufjs would (its tests compare the
 * two); anything else (a field it does not know, a repeated field, a
 * non-ASCII string, a value of another type) it leaves to protobufjs.
 */
import type protobuf from "protobufjs";

type Kind = "string" | "uint32" | "bytes";

interface FlatField {
  readonly id: number;
  readonly name: string;
  readonly kind: Kind;
  /** The field's tag byte: id and wire type (ids below 16 fit one byte). */
  readonly tag: number;
}

const WIRE: Record<Kind, number> = { string: 2, uint32: 0, bytes: 2 };

/** The codec of one flat message type. */
export class FlatCodec {
  /** Fields by id (sparse), for decoding. */
  readonly #byId: Array<FlatField | undefined> = [];
  /** Fields in id order: protobufjs writes them in that order. */
  readonly #sorted: readonly FlatField[];
  /** Fields in declaration order: protobufjs's toObject gives keys in that order. */
  readonly #declared: readonly FlatField[];
  /** The last string decoded per field id, and its bytes: a batch names the same key thousands of times. */
  readonly #lastText: Array<{ bytes: Uint8Array; text: string } | undefined> = [];

  private constructor(fields: readonly FlatField[]) {
    this.#declared = fields;
    this.#sorted = [...fields].sort((a, b) => a.id - b.id);
    for (const f of fields) this.#byId[f.id] = f;
  }

  /** The codec of `type`, or undefined when it is not flat. */
  static of(type: protobuf.Type): FlatCodec | undefined {
    const fields: FlatField[] = [];
    for (const f of type.fieldsArray) {
      const kind = f.type as Kind;
      if (f.repeated || f.map || f.partOf || f.required || f.hasPresence || !(kind in WIRE) || f.id >= 16) return undefined;
      fields.push({ id: f.id, name: f.name, kind, tag: (f.id << 3) | WIRE[kind] });
    }
    return fields.length > 0 ? new FlatCodec(fields) : undefined;
  }

  /**
   * Decodes `buf[start, end)` as protobufjs's decode + toObject({ defaults }) would
   * (bytes are views of `buf`); undefined when the message is not a plain one.
   */
  decode(buf: Uint8Array, start: number, end: number): Record<string, unknown> | undefined {
    const values: unknown[] = [];
    let at = start;
    while (at < end) {
      const tag = buf[at++];
      const f = tag < 0x80 ? this.#byId[tag >>> 3] : undefined;
      if (!f || f.tag !== tag || values[f.id] !== undefined) return undefined;
      // A varint of at most 4 bytes: a uint32 up to 2^28 or a length (bodies are at most 8 MB).
      let n = 0;
      for (let shift = 0; ; shift += 7) {
        if (at >= end || shift > 21) return undefined;
        const b = buf[at++];
        n |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      if (f.kind === "uint32") {
        values[f.id] = n;
        continue;
      }
      if (n > end - at) return undefined;
      if (f.kind === "bytes") values[f.id] = buf.subarray(at, at + n);
      else {
        const text = this.#text(f.id, buf, at, at + n);
        if (text === undefined) return undefined;
        values[f.id] = text;
      }
      at += n;
    }
    const out: Record<string, unknown> = {};
    for (const f of this.#declared) out[f.name] = values[f.id] ?? (f.kind === "string" ? "" : f.kind === "uint32" ? 0 : new Uint8Array(0));
    return out;
  }

  /** An ASCII string (else undefined), the previous one's object when the bytes are the same. */
  #text(id: number, buf: Uint8Array, start: number, end: number): string | undefined {
    const last = this.#lastText[id];
    const n = end - start;
    if (last && last.bytes.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) if (last.bytes[i] !== buf[start + i]) { same = false; break; }
      if (same) return last.text;
    }
    let text = "";
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return undefined;
      text += String.fromCharCode(c);
    }
    this.#lastText[id] = { bytes: buf.slice(start, end), text };
    return text;
  }

  /**
   * The size of `message` as protobufjs's fromObject + encode would write it,
   * or -1 when it is not a plain one (a value of another type, a non-ASCII string).
   */
  size(message: Record<string, unknown>): number {
    let size = 0;
    for (const f of this.#sorted) {
      const v = message[f.name];
      if (v === undefined || v === null) continue;
      let n: number;
      if (f.kind === "uint32") {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) return -1;
        if (v === 0) continue;
        size += 1 + varintSize(v);
        continue;
      }
      if (f.kind === "bytes") {
        if (!(v instanceof Uint8Array)) return -1;
        n = v.length;
      } else {
        if (typeof v !== "string" || !isAscii(v)) return -1;
        n = v.length;
      }
      if (n > 0) size += 1 + varintSize(n) + n;
    }
    return size;
  }

  /** Writes `message` (whose size() was not -1) at `out[at]`; gives the offset after it. */
  write(message: Record<string, unknown>, out: Uint8Array, at: number): number {
    for (const f of this.#sorted) {
      const v = message[f.name];
      if (v === undefined || v === null) continue;
      if (f.kind === "uint32") {
        if (v === 0) continue;
        out[at++] = f.tag;
        at = writeVarint(v as number, out, at);
      } else if (f.kind === "bytes") {
        const b = v as Uint8Array;
        if (b.length === 0) continue;
        out[at++] = f.tag;
        at = writeVarint(b.length, out, at);
        out.set(b, at);
        at += b.length;
      } else {
        const s = v as string;
        if (s.length === 0) continue;
        out[at++] = f.tag;
        at = writeVarint(s.length, out, at);
        for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
      }
    }
    return at;
  }
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(n: number, out: Uint8Array, at: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
