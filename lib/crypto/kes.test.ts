import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHmac, getCiphers, randomBytes as nodeRandomBytes } from "node:crypto";
import { chacha20poly1305, hchacha } from "@noble/ciphers/chacha.js";
import { decryptKes, encryptKes, KES_CIPHERTEXT_OVERHEAD } from "./kes.ts";

// KES-format vectors are built here from primitives, not with the code under test:
// sealed(AAD = associated data) ‖ iv[16] ‖ nonce[12].
const rand = (n: number) => new Uint8Array(nodeRandomBytes(n));
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function kesAes(master: Uint8Array, iv: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array {
  const key = createHmac("sha256", master).update(iv).digest();
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(ad);
  return cat(c.update(pt), c.final(), c.getAuthTag(), iv, nonce);
}

function hchachaKey(master: Uint8Array, iv: Uint8Array): Uint8Array {
  const u32 = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
  const out = new Uint32Array(8);
  hchacha(u32(new TextEncoder().encode("expand 32-byte k")), u32(master), u32(iv), out);
  return new Uint8Array(out.buffer);
}

function kesChaCha(master: Uint8Array, iv: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array {
  return cat(chacha20poly1305(hchachaKey(master, iv), nonce, ad).encrypt(pt), iv, nonce);
}

const builders = { AES256: kesAes, ChaCha20: kesChaCha } as const;

test("KES_CIPHERTEXT_OVERHEAD is 44", () => assert.equal(KES_CIPHERTEXT_OVERHEAD, 44));

for (const [type, build] of Object.entries(builders) as [keyof typeof builders, typeof kesAes][]) {
  test(`${type}: decryptKes opens independently built KES ciphertexts`, () => {
    for (const len of [0, 1, 32, 1000]) {
      for (const ad of [new Uint8Array(0), new TextEncoder().encode("my-bucket/my-object")]) {
        const master = rand(32), pt = rand(len);
        const ct = build(master, rand(16), rand(12), pt, ad);
        assert.equal(ct.length, len + 44);
        const back = decryptKes(type, master, ct, ad);
        assert.ok(back !== null, `len ${len} ad ${ad.length}`);
        assert.deepEqual(back, pt);
      }
    }
  });

  test(`${type}: decryptKes rejects wrong associated data, flipped bits, truncation, wrong master`, () => {
    const master = rand(32), ad = new TextEncoder().encode("ctx");
    const ct = build(master, rand(16), rand(12), new TextEncoder().encode("kes secret"), ad);
    assert.equal(decryptKes(type, master, ct, new Uint8Array(0)), null);
    assert.equal(decryptKes(type, master, ct, new TextEncoder().encode("cty")), null);
    for (let i = 0; i < ct.length; i++) {
      const bad = ct.slice();
      bad[i] ^= 0x04;
      assert.equal(decryptKes(type, master, bad, ad), null, `byte ${i}`);
    }
    assert.equal(decryptKes(type, master, ct.subarray(0, ct.length - 1), ad), null);
    assert.equal(decryptKes(type, master, ct.subarray(1), ad), null);
    for (let n = 0; n < 44; n++) assert.equal(decryptKes(type, master, ct.subarray(0, n), ad), null);
    assert.equal(decryptKes(type, rand(32), ct, ad), null);
    assert.equal(decryptKes(type === "AES256" ? "ChaCha20" : "AES256", master, ct, ad), null);
  });
}

test("ChaCha20 KES vector agrees with node:crypto chacha20-poly1305 where available (Deno)", { skip: !getCiphers().includes("chacha20-poly1305") }, () => {
  const master = rand(32), iv = rand(16), nonce = rand(12), pt = rand(100), ad = rand(7);
  const c = createCipheriv("chacha20-poly1305", hchachaKey(master, iv), nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: pt.length });
  const viaNode = cat(c.update(pt), c.final(), c.getAuthTag(), iv, nonce);
  assert.deepEqual(viaNode, kesChaCha(master, iv, nonce, pt, ad));
  assert.deepEqual(decryptKes("ChaCha20", master, viaNode, ad), pt);
});

for (const [type, build] of Object.entries(builders) as [keyof typeof builders, typeof kesAes][]) {
  test(`${type}: encryptKes output is KES's layout and opens with the independent primitives`, () => {
    const master = rand(32), pt = rand(57), ad = new TextEncoder().encode('{"bucket":"bucket/object"}');
    const ct = encryptKes(type, master, pt, ad);
    assert.equal(ct.length, pt.length + 44);
    const iv = ct.subarray(ct.length - 28, ct.length - 12), nonce = ct.subarray(ct.length - 12);
    // Rebuilding with the same iv and nonce through the independent builder gives the same bytes.
    assert.deepEqual(build(master, iv, nonce, pt, ad), ct);
    assert.deepEqual(decryptKes(type, master, ct, ad), pt);
    assert.equal(decryptKes(type, master, ct, new Uint8Array(0)), null);
    assert.notDeepEqual(encryptKes(type, master, pt, ad), ct, "fresh iv and nonce per call");
  });
  test(`${type}: decryptKes opens KES's legacy JSON envelope`, () => {
    const master = rand(32), pt = rand(32), ad = new TextEncoder().encode("ctx");
    const raw = build(master, rand(16), rand(12), pt, ad);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
    const aead = type === "AES256" ? "AES-256-GCM-HMAC-SHA-256" : "ChaCha20Poly1305";
    const json = (a: string) => new TextEncoder().encode(JSON.stringify({
      aead: a, iv: b64(raw.subarray(raw.length - 28, raw.length - 12)), nonce: b64(raw.subarray(raw.length - 12)), bytes: b64(raw.subarray(0, raw.length - 28)),
    }));
    assert.deepEqual(decryptKes(type, master, json(aead), ad), pt);
    assert.equal(decryptKes(type, master, json(aead), new Uint8Array(0)), null);
    assert.equal(decryptKes(type, master, json("bogus"), ad), null);
    assert.equal(decryptKes(type, master, new TextEncoder().encode("{not json"), ad), null);
  });
}
