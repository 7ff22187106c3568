/**
 * KES's encoding of a master key in a key store, so stores written by KES are
 * read here and vice versa: standard base64 of a protobuf KeyVersion
 *
 *   KeyVersion{ key=1 SecretKey, hmac_key=2 HMACKey, created_at=3 Timestamp, created_by=4 string }
 *   SecretKey{ key=1 bytes, type=2 uint32 (1 AES256, 2 ChaCha20) }
 *   HMACKey{ key=1 bytes, hash=2 uint32 (1 SHA256) }
 *   Timestamp{ seconds=1 int64, nanos=2 int32 }
 *
 * and, read only, the older JSON form {"bytes", "algorithm", "created_at", "created_by"}.
 */
import type { KeyType } from "../crypto/message-key.ts";
import type { MasterKey } from "./keystore.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";

const TYPE_IDS: Readonly<Record<KeyType, number>> = { AES256: 1, ChaCha20: 2 };
const HASH_SHA256 = 1;

/** Thrown for values that are neither form; the message never contains key bytes. */
export class KeyFormatError extends Error {
  constructor(reason: string) {
    super(`invalid key in key store: ${reason}`);
    this.name = "KeyFormatError";
  }
}

// ------------------------------------------------------------------ protobuf

class Writer {
  readonly parts: number[] = [];
  varint(n: bigint | number): void {
    let v = BigInt(n);
    if (v < 0n) v += 1n << 64n; // two's complement, as protobuf encodes negative int64
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (v > 0n);
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
  }
  uint(field: number, n: bigint | number): void {
    if (BigInt(n) === 0n) return; // proto3 omits defaults
    this.tag(field, 0);
    this.varint(n);
  }
  done(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

type Fields = Map<number, Array<bigint | Uint8Array>>;

/** Parses one message into field number → values; throws on malformed input. */
function readFields(b: Uint8Array): Fields {
  const out: Fields = new Map();
  let at = 0;
  const varint = (): bigint => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (at >= b.length || shift > 63n) throw new KeyFormatError("truncated protobuf");
      const byte = b[at++];
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
      shift += 7n;
    }
  };
  while (at < b.length) {
    const key = varint();
    const field = Number(key >> 3n), wire = Number(key & 7n);
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = Number(varint());
      if (at + len > b.length) throw new KeyFormatError("truncated protobuf");
      value = b.subarray(at, at + len);
      at += len;
    } else if (wire === 1) {
      at += 8;
      continue;
    } else if (wire === 5) {
      at += 4;
      continue;
    } else throw new KeyFormatError("unsupported protobuf wire type");
    if (at > b.length) throw new KeyFormatError("truncated protobuf");
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const lastBytes = (f: Fields, n: number): Uint8Array | undefined => {
  const v = f.get(n)?.at(-1);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw new KeyFormatError(`field ${n} is not bytes`);
  return v;
};
const lastInt = (f: Fields, n: number): bigint => {
  const v = f.get(n)?.at(-1);
  if (v === undefined) return 0n;
  if (typeof v !== "bigint") throw new KeyFormatError(`field ${n} is not an integer`);
  return v;
};

/** The protobuf bytes of a KeyVersion. */
export function encodeKeyVersionProto(key: MasterKey): Uint8Array {
  const secret = new Writer();
  secret.bytes(1, key.material);
  secret.uint(2, TYPE_IDS[key.type]);
  const top = new Writer();
  top.bytes(1, secret.done());
  if (key.hmacKey) {
    const h = new Writer();
    h.bytes(1, key.hmacKey);
    h.uint(2, HASH_SHA256);
    top.bytes(2, h.done());
  }
  const ts = new Writer();
  ts.uint(1, BigInt(Math.floor(key.createdAt / 1000)));
  ts.uint(2, (key.createdAt % 1000) * 1_000_000);
  top.bytes(3, ts.done());
  if (key.createdBy) top.bytes(4, new TextEncoder().encode(key.createdBy));
  return top.done();
}

/** Parses the protobuf bytes of a KeyVersion. */
export function decodeKeyVersionProto(b: Uint8Array): MasterKey {
  const top = readFields(b);
  const secretBytes = lastBytes(top, 1);
  if (!secretBytes) throw new KeyFormatError("no secret key");
  const secret = readFields(secretBytes);
  const material = lastBytes(secret, 1);
  if (!material || material.length !== 32) throw new KeyFormatError("secret key must be 32 bytes");
  const typeId = Number(lastInt(secret, 2));
  const type = (Object.keys(TYPE_IDS) as KeyType[]).find((t) => TYPE_IDS[t] === typeId);
  if (!type) throw new KeyFormatError(`unsupported key type ${typeId}`);
  let hmacKey: Uint8Array | undefined;
  const hmacBytes = lastBytes(top, 2);
  if (hmacBytes) {
    const h = readFields(hmacBytes);
    const k = lastBytes(h, 1);
    const hash = Number(lastInt(h, 2));
    if (!k || k.length === 0) throw new KeyFormatError("empty HMAC key");
    if (hash !== HASH_SHA256) throw new KeyFormatError(`unsupported HMAC hash ${hash}`);
    hmacKey = k.slice();
  }
  let createdAt = 0;
  const tsBytes = lastBytes(top, 3);
  if (tsBytes) {
    const ts = readFields(tsBytes);
    createdAt = Number(lastInt(ts, 1)) * 1000 + Math.floor(Number(lastInt(ts, 2)) / 1_000_000);
  }
  const by = lastBytes(top, 4);
  return { type, material: material.slice(), hmacKey, createdAt, createdBy: by ? new TextDecoder().decode(by) : "" };
}

// ------------------------------------------------------------------ text forms

/** A key as the text KES stores: standard base64 of the protobuf KeyVersion. */
export function encodeKey(key: MasterKey): string {
  return encodeBase64(encodeKeyVersionProto(key));
}

const LEGACY_TYPES: Readonly<Record<string, KeyType>> = {
  "": "AES256",
  "AES256": "AES256",
  "AES256-GCM_SHA256": "AES256",
  "ChaCha20": "ChaCha20",
  "XCHACHA20-POLY1305": "ChaCha20",
};

/** Parses a stored key: base64 protobuf (current KES), raw protobuf, or legacy JSON. */
export function decodeKey(value: string | Uint8Array): MasterKey {
  const text = typeof value === "string" ? value : new TextDecoder().decode(value);
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return decodeLegacyJson(trimmed);
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) && trimmed.length % 4 === 0) {
    return decodeKeyVersionProto(decodeBase64(trimmed));
  }
  if (typeof value !== "string" && value.length > 0 && value[0] === 0x0a) return decodeKeyVersionProto(value);
  throw new KeyFormatError("neither a KES key version nor a legacy JSON key");
}

function decodeLegacyJson(text: string): MasterKey {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch {
    throw new KeyFormatError("malformed JSON");
  }
  if (typeof j !== "object" || j === null) throw new KeyFormatError("malformed JSON");
  const bytes = j.bytes;
  if (typeof bytes !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(bytes)) throw new KeyFormatError("no key bytes");
  const material = decodeBase64(bytes);
  if (material.length !== 32) throw new KeyFormatError("secret key must be 32 bytes");
  const algorithm = typeof j.algorithm === "string" ? j.algorithm : "";
  const type = LEGACY_TYPES[algorithm];
  if (!type) throw new KeyFormatError(`unsupported algorithm ${algorithm.slice(0, 40)}`);
  const createdAt = typeof j.created_at === "string" ? Date.parse(j.created_at) : NaN;
  return {
    type,
    material,
    createdAt: Number.isFinite(createdAt) ? createdAt : 0,
    createdBy: typeof j.created_by === "string" ? j.created_by : "",
  };
}
