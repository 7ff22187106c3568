import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { decodeKey, encodeKey, encodeKeyVersionProto, KeyFormatError } from "./keyformat.ts";

const key = () => ({ type: "AES256" as const, material: new Uint8Array(randomBytes(32)), hmacKey: new Uint8Array(randomBytes(32)), createdAt: 1_700_000_123_456, createdBy: "ab".repeat(32) });

test("KeyVersion protobuf bytes follow the field layout", () => {
  const k = { ...key(), material: new Uint8Array(32).fill(1), hmacKey: new Uint8Array(32).fill(2), createdBy: "x" };
  const hex = Buffer.from(encodeKeyVersionProto(k)).toString("hex");
  // key=1 {key=1 (32 bytes), type=2 (1)}, hmac_key=2 {key=1, hash=2 (1)}, created_at=3 {seconds=1, nanos=2}, created_by=4
  assert.ok(hex.startsWith("0a24" + "0a20" + "01".repeat(32) + "1001" + "1224" + "0a20" + "02".repeat(32) + "1001" + "1a"), hex);
  assert.ok(hex.endsWith("2201" + "78"), hex);
});

test("round trips, and stores as standard base64", () => {
  for (const type of ["AES256", "ChaCha20"] as const) {
    const k = { ...key(), type };
    const text = encodeKey(k);
    assert.match(text, /^[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(decodeKey(text), k);
    assert.deepEqual(decodeKey(new TextEncoder().encode(text + "\n")), k);
  }
  const { hmacKey: _, ...noHmac } = key();
  assert.deepEqual(decodeKey(encodeKey(noHmac)), { ...noHmac, hmacKey: undefined });
});

test("reads KES's legacy JSON keys", () => {
  const material = new Uint8Array(randomBytes(32));
  for (const [algorithm, type] of [["", "AES256"], ["AES256", "AES256"], ["AES256-GCM_SHA256", "AES256"], ["ChaCha20", "ChaCha20"], ["XCHACHA20-POLY1305", "ChaCha20"]]) {
    const k = decodeKey(JSON.stringify({ bytes: Buffer.from(material).toString("base64"), algorithm, created_at: "2020-01-02T03:04:05Z", created_by: "me" }));
    assert.equal(k.type, type);
    assert.deepEqual(k.material, material);
    assert.equal(k.createdAt, Date.parse("2020-01-02T03:04:05Z"));
    assert.equal(k.hmacKey, undefined);
  }
});

test("rejects malformed values without echoing key bytes", () => {
  const material = Buffer.from(randomBytes(32));
  const bad = [
    "",
    "not base64 !",
    Buffer.from([0x0a, 0x05, 0x01]).toString("base64"), // truncated
    encodeKey({ ...key(), material: new Uint8Array(16) }),
    JSON.stringify({ bytes: material.subarray(0, 31).toString("base64") }),
    JSON.stringify({ bytes: material.toString("base64"), algorithm: "DES" }),
    "{not json",
  ];
  for (const v of bad) {
    assert.throws(() => decodeKey(v), (e: Error) => e instanceof KeyFormatError && !e.message.includes(material.toString("base64").slice(0, 12)), v);
  }
});
