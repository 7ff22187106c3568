import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, getCiphers } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { open, seal, type KeyType } from "./aead.ts";
import { chachaMessageKey } from "./message-key.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const TYPES: KeyType[] = ["AES256", "ChaCha20"];

// Known answer, computed once with node:crypto (HMAC-SHA256 then AES-256-GCM) in a
// scratch script; the message key was cross-checked with `openssl dgst -mac HMAC`.
const KAT = {
  master: hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
  iv: hex("f0e1d2c3b4a5968778695a4b3c2d1e0f"),
  nonce: hex("0a0b0c0d0e0f101112131415"),
  plaintext: hex("74686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f67"),
  aad: hex("6275636b65742f6f626a656374"),
  sealed:
    "fcdbf8356cbe6ed3c94675ea8f0f943991048430351d3fb7dd448a27a13a93f01d9d678a93da47544acccda3b301e6ae8935dcfd1146b739b79eb4",
};

test("AES256 seal matches the fixed known-answer vector", () => {
  const sealed = seal("AES256", KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad);
  assert.equal(toHex(sealed), KAT.sealed);
  assert.deepEqual(open("AES256", KAT.master, KAT.iv, KAT.nonce, hex(KAT.sealed), KAT.aad), KAT.plaintext);
});

test("HChaCha20 message key matches draft-irtf-cfrg-xchacha §2.2.1", () => {
  const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const input = hex("000000090000004a0000000031415927");
  assert.equal(
    toHex(chachaMessageKey(key, input)),
    "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc",
  );
});

test("HChaCha20 message key is the same when key and iv are Buffer views into a larger buffer (as protobuf decodes a request)", () => {
  const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const input = hex("000000090000004a0000000031415927");
  // Node's Buffer.slice() shares memory: a copy must not take the whole underlying buffer.
  const body = Buffer.concat([Buffer.from("framing"), Buffer.from(key), Buffer.from(input), Buffer.from("trailer")]);
  const keyView = body.subarray(7, 39), ivView = body.subarray(39, 55);
  assert.equal(toHex(chachaMessageKey(keyView, ivView)), "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
});

test("ChaCha20 seal equals XChaCha20-Poly1305 when the nonce starts with 4 zero bytes", () => {
  // XChaCha20 = ChaCha20 under HChaCha20(key, n[0:16]) with nonce 0^4 ‖ n[16:24].
  const master = KAT.master, iv = KAT.iv;
  const nonce = hex("00000000" + "0102030405060708");
  const sealed = seal("ChaCha20", master, iv, nonce, KAT.plaintext, KAT.aad);
  const x = xchacha20poly1305(master, new Uint8Array([...iv, ...nonce.subarray(4)]), KAT.aad).encrypt(KAT.plaintext);
  assert.equal(toHex(sealed), toHex(x));
});

test("ChaCha20 seal matches node:crypto chacha20-poly1305 where available (Deno)", { skip: !getCiphers().includes("chacha20-poly1305") }, () => {
  const key = chachaMessageKey(KAT.master, KAT.iv);
  const c = createCipheriv("chacha20-poly1305", key, KAT.nonce, { authTagLength: 16 });
  c.setAAD(KAT.aad, { plaintextLength: KAT.plaintext.length });
  const expected = Buffer.concat([c.update(KAT.plaintext), c.final(), c.getAuthTag()]).toString("hex");
  assert.equal(toHex(seal("ChaCha20", KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad)), expected);
});

for (const type of TYPES) {
  test(`${type}: seal/open round trip, output is ciphertext‖16-byte tag`, () => {
    for (const len of [0, 1, 15, 16, 17, 1000]) {
      const pt = new Uint8Array(len).map((_, i) => i);
      const sealed = seal(type, KAT.master, KAT.iv, KAT.nonce, pt, KAT.aad);
      assert.equal(sealed.length, len + 16);
      const back = open(type, KAT.master, KAT.iv, KAT.nonce, sealed, KAT.aad);
      assert.ok(back !== null);
      assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
      assert.deepEqual(back, pt);
    }
  });

  test(`${type}: open returns null for tampering or any changed input`, () => {
    const sealed = seal(type, KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad);
    const flip = (b: Uint8Array, i: number) => { const c = b.slice(); c[i] ^= 0x01; return c; };
    assert.equal(open(type, flip(KAT.master, 31), KAT.iv, KAT.nonce, sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, flip(KAT.iv, 0), KAT.nonce, sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, flip(KAT.nonce, 11), sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce, sealed, flip(KAT.aad, 0)), null);
    for (let i = 0; i < sealed.length; i++) {
      assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce, flip(sealed, i), KAT.aad), null, `byte ${i}`);
    }
  });

  test(`${type}: open returns null (never throws) on malformed arguments`, () => {
    const sealed = seal(type, KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad);
    assert.equal(open(type, KAT.master.subarray(1), KAT.iv, KAT.nonce, sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv.subarray(1), KAT.nonce, sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce.subarray(1), sealed, KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce, sealed.subarray(0, 15), KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce, new Uint8Array(0), KAT.aad), null);
    assert.equal(open(type, KAT.master, KAT.iv, KAT.nonce, sealed.subarray(1), KAT.aad), null);
  });

  test(`${type}: seal throws on bad lengths without echoing key material`, () => {
    const key = hex("aa".repeat(31));
    assert.throws(
      () => seal(type, key, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad),
      (e: Error) => e instanceof RangeError && !e.message.includes("aa") && !e.message.includes("170"),
    );
    assert.throws(() => seal(type, KAT.master, KAT.iv.subarray(1), KAT.nonce, KAT.plaintext, KAT.aad), RangeError);
    assert.throws(() => seal(type, KAT.master, KAT.iv, KAT.nonce.subarray(1), KAT.plaintext, KAT.aad), RangeError);
  });
}

test("the two key types are not interchangeable", () => {
  const sealed = seal("AES256", KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad);
  assert.equal(open("ChaCha20", KAT.master, KAT.iv, KAT.nonce, sealed, KAT.aad), null);
  assert.equal(open("bogus" as KeyType, KAT.master, KAT.iv, KAT.nonce, sealed, KAT.aad), null);
  assert.throws(() => seal("bogus" as KeyType, KAT.master, KAT.iv, KAT.nonce, KAT.plaintext, KAT.aad), TypeError);
});
