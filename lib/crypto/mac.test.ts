import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mac } from "./mac.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const master = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const message = new TextEncoder().encode("hello");

test("mac = HMAC-SHA256(HMAC-SHA256(master, 'kms/v1/mac'), message)", () => {
  const subKey = createHmac("sha256", master).update("kms/v1/mac").digest();
  const expected = createHmac("sha256", subKey).update(message).digest("hex");
  assert.equal(toHex(mac(master, message)), expected);
  // Second call goes through the sub-key cache and must agree.
  assert.equal(toHex(mac(master, message)), expected);
});

test("mac never uses the master key itself as the HMAC key", () => {
  const direct = createHmac("sha256", master).update(message).digest("hex");
  assert.notEqual(toHex(mac(master, message)), direct);
});

test("mac: different masters or messages give different MACs", () => {
  const other = master.slice();
  other[0] ^= 1;
  assert.notEqual(toHex(mac(master, message)), toHex(mac(other, message)));
  assert.notEqual(toHex(mac(master, message)), toHex(mac(master, new TextEncoder().encode("hellp"))));
  // An equal-content master in a different array gives the same MAC (cache is not a key).
  assert.equal(toHex(mac(master, message)), toHex(mac(master.slice(), message)));
});

test("mac returns a plain 32-byte Uint8Array", () => {
  const m = mac(master, new Uint8Array(0));
  assert.equal(m.length, 32);
  assert.equal(Object.getPrototypeOf(m), Uint8Array.prototype);
});
