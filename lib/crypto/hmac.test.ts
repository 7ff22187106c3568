import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac, randomBytes } from "node:crypto";
import { KeyedHmac } from "./hmac.ts";
import { aesMessageKey, aesMessageKeys } from "./message-key.ts";

const runtimeHasher = (globalThis as { Bun?: { CryptoHasher?: unknown } }).Bun?.CryptoHasher;

test("KeyedHmac is HMAC-SHA256 of a ‖ b, with the runtime's keyed hasher and with node:crypto, reused for many messages", () => {
  for (const hasher of [runtimeHasher, undefined]) {
    const key = new Uint8Array(randomBytes(32));
    const mac = new KeyedHmac(key, hasher as never);
    for (let i = 0; i < 50; i++) {
      const a = new Uint8Array(randomBytes(i % 40)), b = new Uint8Array(randomBytes((i * 7) % 300));
      const one = createHmac("sha256", key).update(a).digest();
      const two = createHmac("sha256", key).update(a).update(b).digest();
      assert.deepEqual(mac.bytes(a), new Uint8Array(one), `one part, ${hasher ? "keyed hasher" : "node:crypto"}`);
      assert.deepEqual(mac.bytes(a, b), new Uint8Array(two), "two parts");
      assert.equal(mac.latin1(a, b), Buffer.from(two).toString("latin1"), "latin1");
    }
  }
});

test("aesMessageKeys gives aesMessageKey's keys (the store's row keys are aead.ts's message keys)", () => {
  const master = new Uint8Array(randomBytes(32));
  const keys = aesMessageKeys(master);
  for (let i = 0; i < 20; i++) {
    const iv = new Uint8Array(randomBytes(16));
    assert.deepEqual(keys(iv), new Uint8Array(aesMessageKey(master, iv)));
  }
});
