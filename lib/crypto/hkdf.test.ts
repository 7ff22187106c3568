import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { deriveKey } from "./hkdf.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("deriveKey matches RFC 5869 test case 3 (empty salt, empty info)", () => {
  const okm = deriveKey(hex("0b".repeat(22)), "", 42);
  assert.equal(
    toHex(okm),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
});

test("deriveKey equals HKDF computed by hand with HMAC and an all-zero salt", () => {
  const ikm = hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  const prk = createHmac("sha256", new Uint8Array(32)).update(ikm).digest();
  const t1 = createHmac("sha256", prk).update("kms/test").update(new Uint8Array([1])).digest();
  assert.equal(toHex(deriveKey(ikm, "kms/test")), t1.toString("hex"));
});

test("deriveKey: default length 32, different info gives a different key", () => {
  const ikm = hex("42".repeat(32));
  const a = deriveKey(ikm, "a");
  assert.equal(a.length, 32);
  assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
  assert.notEqual(toHex(a), toHex(deriveKey(ikm, "b")));
  assert.equal(deriveKey(ikm, "a", 64).length, 64);
});
