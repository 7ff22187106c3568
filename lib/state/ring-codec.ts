/**
 * A compact form for the key rings a server's start holds unparsed
 * (key-rings.ts). A ring's record is JSON of ~260 bytes for one version
 * (names repeated, material in base64, the creator's identity spelled out);
 * held as is, that was most of a key's memory, and its first use paid
 * JSON.parse, valibot and base64 (10–20 µs, several DEK generations).
 *
 * compactRing() reads the JSON that kms writes for a ring without a
 * lifecycle, byte by byte against that layout (the schema's field order, or
 * apply()'s with nextVersion last; integers as digits, 32-byte material as
 * canonical base64, strings without escapes), and writes 57 bytes for one
 * version: anything else it declines and the record stays JSON, read by the
 * full parser. What it accepts is exactly what the schema accepts for those
 * bytes, so ringOfCompact() builds the same ring as parsing the JSON
 * (fields in the schema's order; key-rings.test.ts, ring-codec.test.ts).
 *
 * Layout: 0x01 ‖ nextVersion u32 ‖ count u16 ‖ per version: version u32 ‖
 * type u8 ‖ imported u8 ‖ createdAt (u32 high, u32 low) ‖ creator u32 (an
 * index into the creators the codec has seen) ‖ material (32 bytes).
 */
import type { KeyType } from "../crypto/message-key.ts";
import type { KeyRing, KeyVersion } from "./types.ts";

/** The first byte of a compact ring (a JSON record starts with '{'). */
export const COMPACT = 0x01;
const HEAD = 7;
const MATERIAL = 32;
const VERSION = 4 + 1 + 1 + 8 + 4 + MATERIAL;
const TYPES: readonly KeyType[] = ["AES256", "ChaCha20"];

const enc = new TextEncoder();
const dec = new TextDecoder();
const lit = (s: string) => enc.encode(s);
const OPEN = lit('{"enclave":"');
const NAME = lit('","name":"');
const NEXT = lit('","nextVersion":');
const VERSIONS = lit(',"versions":[');
const NAME_THEN_VERSIONS = lit('","versions":[');
const V_OPEN = lit('{"version":');
const V_TYPE = lit(',"type":"');
const V_MATERIAL = lit('","material":"');
const V_IMPORTED = lit('","imported":');
const V_CREATED_AT = lit(',"createdAt":');
const V_CREATED_BY = lit(',"createdBy":"');
const V_CLOSE = lit('"}');
const TYPE_BYTES = TYPES.map(lit);
const TRUE = lit("true"), FALSE = lit("false");

const B64 = new Int8Array(256).fill(-1);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries()) B64[c.charCodeAt(0)] = i;

/** The creators' identities seen by one state's rings (interned: a million keys made by one identity hold one string). */
export class Creators {
  readonly #names: string[] = [];
  readonly #index = new Map<string, number>();
  /** The bytes and index of the last creator read: most rings share it. */
  #lastBytes = new Uint8Array(0);
  #last = -1;

  /** The index of the creator spelled by bytes[from, to) (ASCII without escapes). */
  indexOf(bytes: Uint8Array, from: number, to: number): number {
    const last = this.#lastBytes;
    if (to - from === last.length) {
      let same = true;
      for (let i = 0; i < last.length && same; i++) same = bytes[from + i] === last[i];
      if (same) return this.#last;
    }
    const name = dec.decode(bytes.subarray(from, to));
    let index = this.#index.get(name);
    if (index === undefined) {
      index = this.#names.push(name) - 1;
      this.#index.set(name, index);
    }
    this.#lastBytes = bytes.slice(from, to);
    this.#last = index;
    return index;
  }

  /** The creator at `index`. */
  name(index: number): string {
    return this.#names[index];
  }
}

/** A cursor over the JSON bytes; every step returns false when the bytes differ from the layout. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  literal(expected: Uint8Array): boolean {
    const b = this.bytes, at = this.at;
    if (at + expected.length > b.length) return false;
    for (let i = 0; i < expected.length; i++) if (b[at + i] !== expected[i]) return false;
    this.at += expected.length;
    return true;
  }

  /** The chars of `s`, which must be ASCII that JSON does not escape. */
  ascii(s: string): boolean {
    const b = this.bytes, at = this.at;
    if (at + s.length > b.length) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || b[at + i] !== c) return false;
    }
    this.at += s.length;
    return true;
  }

  /** A non-negative integer written as JSON writes it (no sign, fraction, exponent or leading zero); -1 otherwise. */
  integer(max: number): number {
    const b = this.bytes;
    let n = 0, i = this.at;
    for (; i < b.length && i - this.at < 16 && b[i] >= 0x30 && b[i] <= 0x39; i++) n = n * 10 + (b[i] - 0x30);
    const digits = i - this.at;
    if (digits === 0 || (digits > 1 && b[this.at] === 0x30) || (i < b.length && b[i] >= 0x30 && b[i] <= 0x39) || n > max) return -1;
    this.at = i;
    return n;
  }

  /** The end of an ASCII string without escapes starting here (at its closing quote); -1 otherwise. */
  plainString(): number {
    const b = this.bytes;
    for (let i = this.at; i < b.length; i++) {
      const c = b[i];
      if (c === 0x22) return i;
      if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
    }
    return -1;
  }
}

/**
 * Writes the compact form of a ring's JSON record into `out` and returns its
 * length; 0 when the record is not in the one layout read here (it then
 * stays JSON). `enclave` and `name` are the record key's: they must match.
 */
export function compactRing(json: Uint8Array, enclave: string, name: string, creators: Creators, out: Uint8Array): number {
  const r = new Reader(json);
  if (!r.literal(OPEN) || !r.ascii(enclave) || !r.literal(NAME) || !r.ascii(name)) return 0;
  // nextVersion before the versions (a ring parsed by the schema and written again) or after them (one apply() made).
  let next = -1;
  if (r.literal(NEXT)) {
    next = r.integer(0xffffffff);
    if (next < 0 || !r.literal(VERSIONS)) return 0;
  } else if (!r.literal(NAME_THEN_VERSIONS)) return 0;
  let o = HEAD, count = 0;
  for (;;) {
    if (o + VERSION > out.length || count === 0xffff) return 0;
    if (!r.literal(V_OPEN)) return 0;
    const version = r.integer(0xffffffff);
    if (version < 0 || !r.literal(V_TYPE)) return 0;
    const type = TYPE_BYTES.findIndex((t) => r.literal(t));
    if (type < 0 || !r.literal(V_MATERIAL) || !base64Material(r, out, o + 18) || !r.literal(V_IMPORTED)) return 0;
    const imported = r.literal(TRUE) ? 1 : r.literal(FALSE) ? 0 : -1;
    if (imported < 0 || !r.literal(V_CREATED_AT)) return 0;
    const createdAt = r.integer(Number.MAX_SAFE_INTEGER);
    if (createdAt < 0 || !r.literal(V_CREATED_BY)) return 0;
    const from = r.at, end = r.plainString();
    if (end < 0) return 0;
    r.at = end;
    if (!r.literal(V_CLOSE)) return 0;
    putU32(out, o, version);
    out[o + 4] = type;
    out[o + 5] = imported;
    putU32(out, o + 6, Math.floor(createdAt / 2 ** 32));
    putU32(out, o + 10, createdAt >>> 0);
    putU32(out, o + 14, creators.indexOf(json, from, end));
    o += VERSION;
    count++;
    if (r.literal(CLOSE_VERSIONS)) break;
    if (json[r.at++] !== 0x2c) return 0; // ','
  }
  if (next < 0) {
    if (!r.literal(NEXT_LAST)) return 0;
    next = r.integer(0xffffffff);
    if (next < 0) return 0;
  }
  if (!r.literal(CLOSE) || r.at !== json.length) return 0;
  out[0] = COMPACT;
  putU32(out, 1, next);
  out[5] = count >>> 8;
  out[6] = count;
  return o;
}
const CLOSE_VERSIONS = lit("]");
const NEXT_LAST = lit(',"nextVersion":');
const CLOSE = lit("}");

/** The ring a compact record holds (fresh objects and material the caller owns). */
export function ringOfCompact(bytes: Uint8Array, enclave: string, name: string, creators: Creators): KeyRing {
  const count = bytes[5] << 8 | bytes[6];
  const versions: KeyVersion[] = [];
  for (let i = 0, o = HEAD; i < count; i++, o += VERSION) {
    versions.push({
      version: getU32(bytes, o),
      type: TYPES[bytes[o + 4]],
      material: bytes.slice(o + 18, o + 18 + MATERIAL),
      imported: bytes[o + 5] === 1,
      createdAt: getU32(bytes, o + 6) * 2 ** 32 + getU32(bytes, o + 10),
      createdBy: creators.name(getU32(bytes, o + 14)),
    });
  }
  return { enclave, name, nextVersion: getU32(bytes, 1), versions };
}

/** A key version as the crypto commands use it; latestOfCompact() fills one in place. */
export interface UsedVersion {
  version: number;
  type: KeyType;
  /** 32 bytes. */
  readonly material: Uint8Array;
}

/**
 * The latest version of the compact ring at bytes[at…] (the one
 * ringOfCompact() puts last), written into `into`, its material copied into
 * into.material: nothing allocated. False when the ring has no version.
 */
export function latestOfCompact(bytes: Uint8Array, at: number, into: UsedVersion): boolean {
  const count = bytes[at + 5] << 8 | bytes[at + 6];
  if (count === 0) return false;
  const o = at + HEAD + (count - 1) * VERSION, material = into.material;
  into.version = getU32(bytes, o);
  into.type = TYPES[bytes[o + 4]];
  for (let k = 0; k < MATERIAL; k++) material[k] = bytes[o + 18 + k];
  return true;
}

/** Decodes 44 chars of canonical base64 of 32 bytes into out[at, at+32). */
function base64Material(r: Reader, out: Uint8Array, at: number): boolean {
  const b = r.bytes, s = r.at;
  if (s + 44 > b.length || b[s + 43] !== 0x3d) return false; // one '=' of padding
  let o = at;
  for (let i = 0; i < 40; i += 4) {
    const a = B64[b[s + i]], c = B64[b[s + i + 1]], d = B64[b[s + i + 2]], e = B64[b[s + i + 3]];
    if ((a | c | d | e) < 0) return false;
    const n = a << 18 | c << 12 | d << 6 | e;
    out[o++] = n >> 16;
    out[o++] = n >> 8;
    out[o++] = n;
  }
  const a = B64[b[s + 40]], c = B64[b[s + 41]], d = B64[b[s + 42]];
  // Canonical: the last char's two unused bits are zero.
  if ((a | c | d) < 0 || (d & 3) !== 0) return false;
  const n = a << 18 | c << 12 | d << 6;
  out[o++] = n >> 16;
  out[o++] = n >> 8;
  r.at = s + 44;
  return true;
}

function putU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = n >>> 16;
  out[at + 2] = n >>> 8;
  out[at + 3] = n;
}

function getU32(b: Uint8Array, at: number): number {
  return (b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) >>> 0;
}
