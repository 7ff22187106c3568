import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { CIPHERTEXT_OVERHEAD, ciphertextVersion, decrypt, encrypt, keyBinding, keyBindingInto } from "./ciphertext.ts";
import { open, type KeyType } from "./aead.ts";
import { randomBytes } from "./random.ts";

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const TYPES: KeyType[] = ["AES256", "ChaCha20"];
const master = randomBytes(32);
const ad = new TextEncoder().encode("enclave/key-1");
const NO_AD = new Uint8Array(0);
const bind = keyBinding("enclave", "key-1");

const flip = (b: Uint8Array, i: number, mask = 0x01) => {
  const c = b.slice();
  c[i] ^= mask;
  return c;
};

test("CIPHERTEXT_OVERHEAD is 50", () => assert.equal(CIPHERTEXT_OVERHEAD, 50));

for (const type of TYPES) {
  test(`${type}: round trips empty and 1 MiB plaintexts, with and without associated data`, () => {
    for (const pt of [new Uint8Array(0), randomBytes(1), randomBytes(1 << 20)]) {
      for (const data of [NO_AD, ad]) {
        const ct = encrypt(type, master, 7, pt, data, bind);
        assert.equal(ct.length, pt.length + CIPHERTEXT_OVERHEAD);
        const back = decrypt(type, master, ct, data, bind);
        assert.ok(back !== null, `length ${pt.length}`);
        assert.equal(back.length, pt.length);
        assert.ok(Buffer.from(back).equals(Buffer.from(pt)));
      }
    }
  });

  test(`${type}: v2 layout, header and binding are as specified`, () => {
    const pt = new TextEncoder().encode("secret");
    const ct = encrypt(type, master, 0x01020304, pt, ad, bind);
    assert.equal(toHex(ct.subarray(0, 6)), "6b0201020304");
    // iv at 6..22, nonce at 22..34, AEAD over header ‖ binding ‖ ad.
    const header = ct.subarray(0, 6);
    const aad = new Uint8Array([...header, ...bind, ...ad]);
    assert.deepEqual(open(type, master, ct.subarray(6, 22), ct.subarray(22, 34), ct.subarray(34), aad), pt);
    // The header and the binding really are in the AAD.
    assert.equal(open(type, master, ct.subarray(6, 22), ct.subarray(22, 34), ct.subarray(34), new Uint8Array([...header, ...ad])), null);
    assert.equal(open(type, master, ct.subarray(6, 22), ct.subarray(22, 34), ct.subarray(34), ad), null);
  });

  test(`${type}: every flipped byte (header, iv, nonce, body, tag) is rejected`, () => {
    const ct = encrypt(type, master, 3, new TextEncoder().encode("hi"), ad, bind);
    assert.equal(ct.length, 52);
    for (let i = 0; i < ct.length; i++) {
      for (const mask of [0x01, 0x80]) {
        assert.equal(decrypt(type, master, flip(ct, i, mask), ad, bind), null, `byte ${i} mask ${mask}`);
      }
    }
    assert.deepEqual(decrypt(type, master, ct, ad, bind), new TextEncoder().encode("hi"));
  });

  test(`${type}: wrong associated data, truncation, wrong master, changed version → null`, () => {
    const ct = encrypt(type, master, 9, randomBytes(40), ad, bind);
    assert.equal(decrypt(type, master, ct, NO_AD, bind), null);
    assert.equal(decrypt(type, master, ct, flip(ad, ad.length - 1), bind), null);
    assert.equal(decrypt(type, master, ct, new Uint8Array([...ad, 0]), bind), null);
    assert.equal(decrypt(type, master, ct.subarray(0, ct.length - 1), ad, bind), null);
    for (let n = 0; n < CIPHERTEXT_OVERHEAD; n++) assert.equal(decrypt(type, master, ct.subarray(0, n), ad, bind), null);
    assert.equal(decrypt(type, flip(master, 0), ct, ad, bind), null);
    assert.equal(decrypt(type, randomBytes(32), ct, ad, bind), null);
    assert.equal(decrypt(type, master.subarray(1), ct, ad, bind), null);
    const bumped = ct.slice();
    new DataView(bumped.buffer).setUint32(2, 10, false);
    assert.equal(ciphertextVersion(bumped), 10);
    assert.equal(decrypt(type, master, bumped, ad, bind), null);
  });

  test(`${type}: two encryptions of the same plaintext differ`, () => {
    const pt = new TextEncoder().encode("same");
    const a = encrypt(type, master, 1, pt, ad, bind);
    const b = encrypt(type, master, 1, pt, ad, bind);
    assert.notEqual(toHex(a), toHex(b));
    assert.notEqual(toHex(a.subarray(6, 22)), toHex(b.subarray(6, 22)), "iv");
    assert.notEqual(toHex(a.subarray(22, 34)), toHex(b.subarray(22, 34)), "nonce");
  });
}

test("decrypt under the other key type fails", () => {
  const ct = encrypt("AES256", master, 1, randomBytes(32), ad, bind);
  assert.equal(decrypt("ChaCha20", master, ct, ad, bind), null);
});

test("ciphertextVersion returns the key version of v1 ciphertexts", () => {
  for (const v of [0, 1, 255, 256, 65536, 0x7fffffff, 0xffffffff]) {
    assert.equal(ciphertextVersion(encrypt("AES256", master, v, new Uint8Array(0), NO_AD, bind)), v);
  }
});

test("ciphertextVersion is undefined for non-v1 input; decrypt returns null", () => {
  const ct = encrypt("AES256", master, 5, randomBytes(10), ad, bind);
  assert.equal(ciphertextVersion(ct.subarray(0, 49)), undefined);
  assert.equal(ciphertextVersion(new Uint8Array(0)), undefined);
  assert.equal(ciphertextVersion(flip(ct, 0)), undefined);
  assert.equal(ciphertextVersion(flip(ct, 1, 0x04)), undefined);
  assert.equal(decrypt("AES256", master, flip(ct, 1, 0x04), ad, bind), null);
  // Works on a view into a larger buffer too.
  const big = new Uint8Array(ct.length + 3);
  big.set(ct, 3);
  assert.equal(ciphertextVersion(big.subarray(3)), 5);
  assert.ok(decrypt("AES256", master, big.subarray(3), ad, bind) !== null);
});

test("encrypt rejects versions that are not uint32", () => {
  for (const v of [-1, 0x100000000, 1.5, NaN]) {
    assert.throws(() => encrypt("AES256", master, v, new Uint8Array(0), NO_AD, bind), RangeError);
  }
});

test("a v2 ciphertext opens only under the binding of the key it was made for", () => {
  // The same key bytes under two names (e.g. imported twice): neither opens the other's ciphertexts.
  const other = keyBinding("other-enclave", "key-1");
  const ct = encrypt("AES256", master, 1, new TextEncoder().encode("tenant A"), ad, bind);
  assert.equal(decrypt("AES256", master, ct, ad, other), null);
  assert.equal(decrypt("AES256", master, ct, ad, keyBinding("enclave", "key-2")), null);
  // "/" cannot occur in names, so moving it between enclave and name is not a collision.
  assert.notDeepEqual(keyBinding("a", "b.c"), keyBinding("a.b", "c"));
  // Relabelling a v2 ciphertext as v1 (which has no binding) does not strip the binding.
  const asV1 = flip(ct, 1, 0x03);
  assert.equal(asV1[1], 0x01);
  assert.equal(decrypt("AES256", master, asV1, ad, other), null);
  assert.equal(decrypt("AES256", master, asV1, ad, bind), null);
});

test("v1 ciphertexts made before v2 still decrypt (fixtures from the v1 encoder)", () => {
  const fixedMaster = new Uint8Array(32).map((_, i) => i + 1);
  const fixedAd = new TextEncoder().encode('{"my-bucket":"my-bucket/my-object"}');
  const fixtures: Record<KeyType, string> = {
    AES256: "awEAAAADUN1uBCLvfv7+6xh28zYgp8FwSzsEx0/r5NAAZJHxkrpDcSqGSSNz7Kt0OrUFeAJnbqTNfm/fUbtQ8k1W+3vP6X4=",
    ChaCha20: "awEAAAADD11Dm12jGNh67UkY43ey2h833vT45ynNL9KGOMJtMbSRk7FcLC9R68t3wXYsfE/3gw9KLVO7/oEVjUKiTV4cO6c=",
  };
  for (const type of TYPES) {
    const ct = new Uint8Array(Buffer.from(fixtures[type], "base64"));
    assert.equal(ciphertextVersion(ct), 3);
    assert.equal(new TextDecoder().decode(decrypt(type, fixedMaster, ct, fixedAd, bind)!), "made by the v1 format");
    assert.equal(decrypt(type, fixedMaster, ct, NO_AD, bind), null);
  }
});

test("keyBinding is SHA-256 of kms/v2/key:<enclave>/<name> in UTF-8 (the same bytes on Bun's hasher and node:crypto)", () => {
  for (const [enclave, name] of [["enclave", "key-1"], ["e", "x".repeat(80)], ["é", "ключ-🔑"]]) {
    const want = new Uint8Array(createHash("sha256").update(Buffer.from(`kms/v2/key:${enclave}/${name}`, "utf8")).digest());
    const got = keyBinding(enclave, name);
    assert.ok(got instanceof Uint8Array && got.length === 32);
    assert.deepEqual([...got], [...want], `${enclave}/${name}`);
    const into = new Uint8Array(32).fill(7);
    assert.equal(keyBindingInto(enclave, name, into), into, "written into the array given");
    assert.deepEqual([...into], [...want], `${enclave}/${name}, into an array reused`);
  }
});
