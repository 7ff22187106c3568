/**
 * The at-rest record format, checked from its description with node:crypto
 * directly: each row is sealed under its own key HMAC-SHA256(sealKey, iv), so
 * no one GCM key meets the random-nonce bound however many rows are written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { RecordCipher } from "./records.ts";

const root = new Uint8Array(randomBytes(32));
const sealKey = Buffer.from(hkdfSync("sha256", root, new Uint8Array(0), "kms/v2/record-seal", 32));
const idKey = Buffer.from(hkdfSync("sha256", root, new Uint8Array(0), "kms/v1/record-id", 32));

/** Opens a row as the format says, without the store's code. */
function openByHand(id: Uint8Array, value: Uint8Array): Buffer {
  const iv = value.subarray(0, 16), nonce = value.subarray(16, 28), body = value.subarray(28, value.length - 16), tag = value.subarray(value.length - 16);
  const key = createHmac("sha256", sealKey).update(iv).digest();
  const d = createDecipheriv("aes-256-gcm", key, nonce);
  d.setAAD(Buffer.concat([Buffer.from("kms/v2/record"), id]));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(body), d.final()]);
}

test("a row is iv ‖ nonce ‖ AES-256-GCM under HMAC(sealKey, iv), bound to its id", () => {
  const cipher = new RecordCipher(root);
  const value = new TextEncoder().encode("the value");
  const row = cipher.seal("k/enclave/key", value);
  assert.deepEqual(Buffer.from(row.id), createHmac("sha256", idKey).update("k/enclave/key").digest());
  assert.equal(row.value.length, 16 + 12 + 4 + "k/enclave/key".length + value.length + 16);
  const plain = openByHand(row.id, row.value);
  assert.equal(plain.readUInt32BE(0), "k/enclave/key".length);
  assert.equal(plain.subarray(4).toString(), "k/enclave/keythe value");
  assert.deepEqual(cipher.open(row), ["k/enclave/key", value]);
});

test("every seal of a record uses a fresh iv, hence a fresh GCM key", () => {
  const cipher = new RecordCipher(root);
  const ivs = new Set<string>();
  for (let i = 0; i < 200; i++) ivs.add(Buffer.from(cipher.seal("m/commit", new Uint8Array([i])).value.subarray(0, 16)).toString("hex"));
  assert.equal(ivs.size, 200);
});

test("a row sealed directly under the seal key (one key, nonces only) does not open: keys are per record", () => {
  const cipher = new RecordCipher(root);
  const row = cipher.seal("a", new Uint8Array([1, 2, 3]));
  const iv = row.value.subarray(0, 16), nonce = row.value.subarray(16, 28);
  const c = createCipheriv("aes-256-gcm", sealKey, nonce);
  c.setAAD(Buffer.concat([Buffer.from("kms/v2/record"), row.id]));
  const plain = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from("a"), Buffer.from([1, 2, 3])]);
  const forged = Buffer.concat([iv, nonce, c.update(plain), c.final(), c.getAuthTag()]);
  assert.equal(cipher.open({ id: row.id, value: forged }), null);
});

test("format-1 and format-2 rows do not open as each other; a changed iv, nonce or tag does not open", () => {
  const cipher = new RecordCipher(root);
  const row = cipher.seal("a", new Uint8Array([9]));
  assert.equal(cipher.openLegacy(row), null);
  for (const at of [0, 15, 16, 27, 28, row.value.length - 1]) {
    const bad = row.value.slice();
    bad[at] ^= 1;
    assert.equal(cipher.open({ id: row.id, value: bad }), null, `byte ${at}`);
  }
  assert.equal(cipher.open({ id: row.id, value: row.value.subarray(0, 40) }), null);
});
