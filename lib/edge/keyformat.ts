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
import protobuf from "protobufjs";
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

/** KES's schema of a stored key version (kes/internal/keystore), as protobufjs reads it. */
const KEY_VERSION_PROTO = `
syntax = "proto3";
package kes;
message SecretKey { bytes key = 1; uint32 type = 2; }
message HMACKey { bytes key = 1; uint32 hash = 2; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message KeyVersion { SecretKey key = 1; HMACKey hmac_key = 2; Timestamp created_at = 3; string created_by = 4; }
`;
const KeyVersion = protobuf.parse(KEY_VERSION_PROTO, { keepCase: true }).root.lookupType("kes.KeyVersion");

/** The object protobufjs encodes: proto3 leaves out fields at their default, so only those set are given. */
function nonDefault<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== "" && v !== undefined)) as Partial<T>;
}

/** The protobuf bytes of a KeyVersion. */
export function encodeKeyVersionProto(key: MasterKey): Uint8Array {
  const seconds = Math.floor(key.createdAt / 1000);
  const message = nonDefault({
    key: { key: key.material, ...nonDefault({ type: TYPE_IDS[key.type] }) },
    hmac_key: key.hmacKey ? { key: key.hmacKey, hash: HASH_SHA256 } : undefined,
    created_at: nonDefault({ seconds, nanos: (key.createdAt - seconds * 1000) * 1_000_000 }),
    created_by: key.createdBy,
  });
  return KeyVersion.encode(KeyVersion.fromObject(message)).finish();
}

interface DecodedKeyVersion {
  key?: { key: Uint8Array; type: number };
  hmac_key?: { key: Uint8Array; hash: number };
  created_at?: { seconds: number; nanos: number };
  created_by: string;
}

/** Parses the protobuf bytes of a KeyVersion. */
export function decodeKeyVersionProto(b: Uint8Array): MasterKey {
  let m: DecodedKeyVersion;
  try {
    m = KeyVersion.toObject(KeyVersion.decode(b), { longs: Number, bytes: Uint8Array, defaults: true }) as DecodedKeyVersion;
  } catch {
    throw new KeyFormatError("truncated or malformed protobuf");
  }
  if (!m.key) throw new KeyFormatError("no secret key");
  if (m.key.key.length !== 32) throw new KeyFormatError("secret key must be 32 bytes");
  const typeId = m.key.type;
  const type = (Object.keys(TYPE_IDS) as KeyType[]).find((t) => TYPE_IDS[t] === typeId);
  if (!type) throw new KeyFormatError(`unsupported key type ${typeId}`);
  let hmacKey: Uint8Array | undefined;
  if (m.hmac_key) {
    if (m.hmac_key.key.length === 0) throw new KeyFormatError("empty HMAC key");
    if (m.hmac_key.hash !== HASH_SHA256) throw new KeyFormatError(`unsupported HMAC hash ${m.hmac_key.hash}`);
    hmacKey = m.hmac_key.key.slice();
  }
  const ts = m.created_at;
  const createdAt = ts ? ts.seconds * 1000 + Math.floor(ts.nanos / 1_000_000) : 0;
  return { type, material: m.key.key.slice(), hmacKey, createdAt, createdBy: m.created_by };
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
