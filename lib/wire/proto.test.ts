import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, duration, encode, fromTimestamp, InvalidMessageError, timestamp } from "./proto.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
/** Bytes as a plain array, so Buffer and Uint8Array compare by content. */
const arr = (b: unknown) => {
  assert.ok(b instanceof Uint8Array, `expected bytes, got ${typeof b}`);
  return [...b];
};

test("VersionResponse round trips, with every field", () => {
  const msg = { version: "1.2.3", commit: "abc", api_version: "v1", host: "kms.example:7373", fips140: true };
  assert.deepEqual(decode("VersionResponse", encode("VersionResponse", msg)), msg);
});

test("decode fills absent proto3 fields with their defaults", () => {
  assert.deepEqual(decode("CreateKeyRequest", bytes()), { name: "", type: "", add_version: false });
  assert.deepEqual(decode("ListRequest", bytes()), { prefix: "", continue_at: "", limit: 0 });
  const enc = decode("EncryptRequest", bytes());
  assert.equal(enc.name, "");
  assert.equal(enc.version, 0);
  assert.deepEqual(arr(enc.plaintext), []);
  assert.deepEqual(arr(enc.associated_data), []);
  assert.deepEqual(decode("ClusterStatusRequest", bytes()), {});
});

test("field numbers are the wire contract: known encodings of a few messages", () => {
  // CreateEnclaveRequest { name = 1 }
  assert.deepEqual([...encode("CreateEnclaveRequest", { name: "e1" })], [0x0a, 2, ...utf8("e1")]);
  // CreateKeyRequest { name = 1, type = 2, add_version = 3 }
  assert.deepEqual([...encode("CreateKeyRequest", { name: "k", type: "AES256", add_version: true })], [0x0a, 1, ...utf8("k"), 0x12, 6, ...utf8("AES256"), 0x18, 1]);
  // DeleteKeyRequest { name = 1, version = 2, all_versions = 3 }
  assert.deepEqual([...encode("DeleteKeyRequest", { name: "k", version: 300, all_versions: true })], [0x0a, 1, ...utf8("k"), 0x10, 0xac, 0x02, 0x18, 1]);
  // GenerateKeyRequest { name = 1, version = 2, associated_data = 3, length = 4 }
  assert.deepEqual(
    [...encode("GenerateKeyRequest", { name: "k", version: 2, associated_data: bytes(9), length: 64 })],
    [0x0a, 1, ...utf8("k"), 0x10, 2, 0x1a, 1, 9, 0x20, 64],
  );
  // ListRequest { prefix = 1, continue_at = 2, limit = 3 }
  assert.deepEqual([...encode("ListRequest", { prefix: "a", continue_at: "b", limit: 5 })], [0x0a, 1, ...utf8("a"), 0x12, 1, ...utf8("b"), 0x18, 5]);
  // EncryptResponse { version = 1, ciphertext = 2 }
  assert.deepEqual([...encode("EncryptResponse", { version: 2, ciphertext: bytes(1, 2) })], [0x08, 2, 0x12, 2, 1, 2]);
  // GenerateKeyResponse { version = 1, plaintext = 2, ciphertext = 3 }
  assert.deepEqual([...encode("GenerateKeyResponse", { version: 1, plaintext: bytes(7), ciphertext: bytes(8) })], [0x08, 1, 0x12, 1, 7, 0x1a, 1, 8]);
  // MACResponse { version = 1, mac = 2 }; DecryptResponse { plaintext = 1 }; ErrResponse { message = 1 }
  assert.deepEqual([...encode("MACResponse", { version: 3, mac: bytes(5) })], [0x08, 3, 0x12, 1, 5]);
  assert.deepEqual([...encode("DecryptResponse", { plaintext: bytes(4) })], [0x0a, 1, 4]);
  assert.deepEqual([...encode("ErrResponse", { message: "no" })], [0x0a, 2, ...utf8("no")]);
  // KeyStatusResponse { name = 1, version = 2, type = 3, created_at = 4 (Timestamp), created_by = 5 }
  assert.deepEqual(
    [...encode("KeyStatusResponse", { name: "k", version: 1, type: "AES256", created_at: { seconds: 2, nanos: 3 }, created_by: "x" })],
    [0x0a, 1, ...utf8("k"), 0x10, 1, 0x1a, 6, ...utf8("AES256"), 0x22, 4, 0x08, 2, 0x10, 3, 0x2a, 1, ...utf8("x")],
  );
});

test("EnclaveStatusResponse round trips its Timestamp to the millisecond", () => {
  const ms = 1_700_000_123_456;
  const out = decode("EnclaveStatusResponse", encode("EnclaveStatusResponse", { name: "e1", created_at: timestamp(ms), created_by: "h1:x" }));
  assert.deepEqual(out, { name: "e1", created_at: { seconds: 1_700_000_123, nanos: 456_000_000 }, created_by: "h1:x" });
  assert.equal(fromTimestamp(out.created_at), ms);
});

test("ClusterStatusResponse round trips nested maps, Durations, sint64 and uint64", () => {
  const server = {
    version: "v", api_version: "v1", host: "h:1", uptime: duration(90_500), role: "Leader", commit: 2 ** 40,
    nodes: { 0: "h:1", 7: "h:2" }, node_id: 7, leader_id: -1,
    last_heartbeat: duration(0), heartbeat_interval: duration(250), election_timeout: duration(1500),
    sys_os: "linux", sys_cpu_arch: "x64", sys_cpu_num: 2, sys_cpu_used: 1,
    sys_mem_heap_used: 123_456_789, sys_mem_stack_used: 0, hsm: ["soft-hsm"], hsm_active: ["soft-hsm", "b"],
  };
  const out = decode("ClusterStatusResponse", encode("ClusterStatusResponse", { nodes_up: { 7: server }, nodes_down: { 3: "h:3", 4: "h:4" } }));
  assert.deepEqual(out.nodes_down, { 3: "h:3", 4: "h:4" });
  const up = out.nodes_up as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(up), ["7"]);
  assert.deepEqual(up[7], { ...server, uptime: { seconds: 90, nanos: 500_000_000 }, last_heartbeat: { seconds: 0, nanos: 0 }, heartbeat_interval: { seconds: 0, nanos: 250_000_000 }, election_timeout: { seconds: 1, nanos: 500_000_000 } });
});

test("string-keyed maps of messages round trip (policies' RuleSets)", () => {
  const msg = { name: "p", allow: { "KEY:GENERATE": { rules: { "minio-*": {}, "k1": {} } } }, deny: { "KEY:DELETE": { rules: { "*": {} } } } };
  assert.deepEqual(decode("CreatePolicyRequest", encode("CreatePolicyRequest", msg)), msg);
});

test("bytes fields round trip exactly, including every byte value", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const out = decode("EncryptRequest", encode("EncryptRequest", { name: "k", version: 4294967295, plaintext: all, associated_data: bytes(0) }));
  assert.equal(out.version, 4294967295);
  assert.deepEqual(arr(out.plaintext), [...all]);
  assert.deepEqual(arr(out.associated_data), [0]);
});

test("unknown fields are skipped, as proto3 requires", () => {
  // field 15 varint 1, then name = "e1"
  assert.deepEqual(decode("CreateEnclaveRequest", bytes(0x78, 1, 0x0a, 2, ...utf8("e1"))), { name: "e1" });
});

test("invalid bytes throw InvalidMessageError naming the message type", () => {
  const bad: Array<[string, Uint8Array]> = [
    ["truncated varint", bytes(0x08, 0x80)],
    ["length beyond the end", bytes(0x0a, 5, 0x61)],
    ["wire type 7", bytes(0x0f, 0)],
    ["a lone 0xff", bytes(0xff)],
    ["field number 0", bytes(0x00, 0x01)],
    ["truncated nested Timestamp", bytes(0x12, 4, 0x08, 1)],
  ];
  for (const [what, b] of bad) {
    assert.throws(
      () => decode(what === "truncated nested Timestamp" ? "EnclaveStatusResponse" : "CreateEnclaveRequest", b),
      (e: unknown) => e instanceof InvalidMessageError && /^invalid (CreateEnclaveRequest|EnclaveStatusResponse) message$/.test(e.message),
      what,
    );
  }
});

test("timestamp/fromTimestamp/duration convert milliseconds both ways", () => {
  assert.deepEqual(timestamp(0), { seconds: 0, nanos: 0 });
  assert.deepEqual(timestamp(1_234), { seconds: 1, nanos: 234_000_000 });
  // Negative times keep nanos non-negative, as google.protobuf.Timestamp requires.
  assert.deepEqual(timestamp(-1), { seconds: -1, nanos: 999_000_000 });
  for (const ms of [0, 1, 999, 1000, 1_700_000_000_001, -1, -1500]) assert.equal(fromTimestamp(timestamp(ms)), ms);
  assert.equal(fromTimestamp(null), 0);
  assert.equal(fromTimestamp({ seconds: 5 }), 5000);
  assert.equal(fromTimestamp({ seconds: 1, nanos: 1_999_999 }), 1001);
  assert.deepEqual(duration(1500), { seconds: 1, nanos: 500_000_000 });
});
