/**
 * Key semantics against one server: AES256 and ChaCha20 round trips, version
 * rotation and deletion, GENERATE lengths, associated-data binding and
 * tamper detection, import, MAC, and decryption of ciphertexts made by KES
 * (built here with node:crypto, independently of the server's code).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { assertServerHealthy, expectKmsError, kesEncrypt } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const E = "keys";
const enc = new TextEncoder();
const INVALID = "invalid ciphertext";
let server: KmsServer;
let client: KmsClient;

const bytes = (b: unknown) => Buffer.from(b as Uint8Array);

/** Encrypts and returns the ciphertext and the version the server used. */
async function encrypt(key: string, plaintext: Uint8Array, ad = new Uint8Array(), version = 0) {
  const r = await client.encrypt(E, key, plaintext, ad, version);
  return { ct: r.ciphertext as Uint8Array, version: r.version as number };
}

/** Decrypts and returns the plaintext. */
async function decrypt(key: string, ct: Uint8Array, ad = new Uint8Array(), version = 0): Promise<Buffer> {
  return bytes((await client.decrypt(E, key, ct, ad, version)).plaintext);
}

describe("keys", () => {
  before(async () => {
    server = await startServer();
    client = server.client();
    await client.createEnclave(E);
  });
  after(cleanup);

  describe("round trips", () => {
    for (const type of ["AES256", "ChaCha20"] as const) {
      it(`${type}: encrypt then decrypt gives the plaintext back, for sizes 0 to 1 MiB`, async () => {
        const name = `rt-${type}`;
        await client.createKey(E, name, type);
        assert.equal((await client.keyStatus(E, name)).type, type);
        for (const size of [0, 1, 15, 16, 17, 4096, 1 << 20]) {
          const pt = randomBytes(size);
          const ad = enc.encode(`size=${size}`);
          const { ct, version } = await encrypt(name, pt, ad);
          assert.equal(version, 1);
          assert.ok(ct.length > size, "the ciphertext is longer than the plaintext");
          assert.ok(!bytes(ct).includes(pt.length >= 16 ? pt.subarray(0, 16) : Buffer.from("\0never\0")), "the plaintext does not show");
          assert.ok((await decrypt(name, ct, ad)).equals(pt), `${type} round trip of ${size} bytes`);
        }
        // Two encryptions of the same plaintext differ (fresh randomness each time).
        const [a, b] = await Promise.all([encrypt(name, enc.encode("same")), encrypt(name, enc.encode("same"))]);
        assert.ok(!bytes(a.ct).equals(bytes(b.ct)));
      });
    }

    it("the default key type is AES256", async () => {
      await client.createKey(E, "default-type");
      assert.equal((await client.keyStatus(E, "default-type")).type, "AES256");
    });

    it("an unknown key type is refused with 400 and no key is made", async () => {
      await expectKmsError(client.createKey(E, "bad-type", "RSA"), 400, /invalid key type/);
      await expectKmsError(client.keyStatus(E, "bad-type"), 404, "key does not exist");
    });
  });

  describe("versions", () => {
    it("rotation: v1 and v2 ciphertexts both open with version 0; a wrong explicit version is an invalid ciphertext", async () => {
      await client.createKey(E, "rot");
      const pt1 = enc.encode("under v1");
      const ad = enc.encode("ad");
      const c1 = await encrypt("rot", pt1, ad);
      assert.equal(c1.version, 1);

      await client.createKey(E, "rot", "", true);
      assert.equal((await client.keyStatus(E, "rot")).version, 2, "the latest version is 2");
      assert.equal((await client.keyStatus(E, "rot", 1)).version, 1, "version 1 is still there");
      const pt2 = enc.encode("under v2");
      const c2 = await encrypt("rot", pt2, ad);
      assert.equal(c2.version, 2, "new encryptions use the latest version");

      // Version 0: the server finds the version from the ciphertext (MinIO always sends 0).
      assert.ok((await decrypt("rot", c1.ct, ad)).equals(bytes(pt1)));
      assert.ok((await decrypt("rot", c2.ct, ad)).equals(bytes(pt2)));
      // The right explicit version works; the wrong one does not.
      assert.ok((await decrypt("rot", c1.ct, ad, 1)).equals(bytes(pt1)));
      assert.ok((await decrypt("rot", c2.ct, ad, 2)).equals(bytes(pt2)));
      await expectKmsError(client.decrypt(E, "rot", c1.ct, ad, 2), 400, INVALID);
      await expectKmsError(client.decrypt(E, "rot", c2.ct, ad, 1), 400, INVALID);

      // Encrypting under an explicit older version still works and says so.
      const old = await encrypt("rot", enc.encode("old"), ad, 1);
      assert.equal(old.version, 1);
      assert.equal((await decrypt("rot", old.ct, ad)).toString(), "old");
      // GENERATE and MAC report the version they used.
      assert.equal((await client.generate(E, "rot")).version, 2);
      assert.equal((await client.generate(E, "rot", undefined, 0, 1)).version, 1);
      assert.equal((await client.mac(E, "rot", enc.encode("m"))).version, 2);
    });

    it("deleting v1 makes its ciphertexts fail while v2 still works; deleting all removes the key", async () => {
      await client.createKey(E, "del");
      const ad = enc.encode("x");
      const c1 = await encrypt("del", enc.encode("one"), ad);
      await client.createKey(E, "del", "", true);
      await client.createKey(E, "del", "", true);
      const c3 = await encrypt("del", enc.encode("three"), ad);
      assert.equal(c3.version, 3);

      await client.deleteKey(E, "del", 1);
      await expectKmsError(client.keyStatus(E, "del", 1), 404, "key does not exist");
      await expectKmsError(client.decrypt(E, "del", c1.ct, ad), 400, INVALID);
      await expectKmsError(client.decrypt(E, "del", c1.ct, ad, 1), 404, "key does not exist"); // an explicit version that is gone, like ENCRYPT
      assert.equal((await decrypt("del", c3.ct, ad)).toString(), "three");
      assert.equal((await client.keyStatus(E, "del")).version, 3);

      // Deleting the latest makes the previous one the latest.
      await client.deleteKey(E, "del");
      assert.equal((await client.keyStatus(E, "del")).version, 2);
      await expectKmsError(client.decrypt(E, "del", c3.ct, ad), 400, INVALID);

      // A version number is never reused after a delete.
      await client.createKey(E, "del", "", true);
      assert.equal((await client.keyStatus(E, "del")).version, 4, "rotation after deleting v3 makes v4, not a new v3");
      await expectKmsError(client.decrypt(E, "del", c3.ct, ad), 400, INVALID);

      await client.deleteKey(E, "del", 0, true);
      await expectKmsError(client.keyStatus(E, "del"), 404, "key does not exist");
      await expectKmsError(client.decrypt(E, "del", c3.ct, ad), 404, "key does not exist");
      await expectKmsError(client.deleteKey(E, "del", 0, true), 404, "key does not exist");
      // The name is free again, and the new key cannot open the old key's ciphertexts.
      await client.createKey(E, "del");
      assert.equal((await client.keyStatus(E, "del")).version, 1);
      await expectKmsError(client.decrypt(E, "del", c1.ct, ad), 400, INVALID);
    });

    it("deleting the only version deletes the key", async () => {
      await client.createKey(E, "single");
      await client.deleteKey(E, "single");
      await expectKmsError(client.keyStatus(E, "single"), 404, "key does not exist");
      assert.ok(!((await client.listKeys(E, "single")).keys as Array<{ name: string }>).some((k) => k.name === "single"));
    });

    it("add_version on a missing key is 404 key does not exist", async () => {
      await expectKmsError(client.createKey(E, "never", "", true), 404, "key does not exist");
      await expectKmsError(client.keyStatus(E, "never"), 404, "key does not exist");
    });

    it("deleting a missing version is 404 and changes nothing", async () => {
      await client.createKey(E, "keep");
      await expectKmsError(client.deleteKey(E, "keep", 5), 404, "key does not exist");
      assert.equal((await client.keyStatus(E, "keep")).version, 1);
    });
  });

  describe("GENERATE", () => {
    before(async () => {
      await client.createKey(E, "gen");
    });

    it("length 0 gives 32 bytes; 1 and 1024 are honoured; 1025 is 400", async () => {
      const cases: Array<[number, number]> = [[0, 32], [1, 1], [32, 32], [1024, 1024]];
      for (const [asked, got] of cases) {
        const r = await client.generate(E, "gen", enc.encode("ctx"), asked);
        assert.equal(bytes(r.plaintext).length, got, `length ${asked}`);
        assert.equal(r.version, 1);
        assert.ok((await decrypt("gen", r.ciphertext as Uint8Array, enc.encode("ctx"))).equals(bytes(r.plaintext)));
      }
      await expectKmsError(client.generate(E, "gen", undefined, 1025), 400, /at most 1024/);
      await expectKmsError(client.generate(E, "gen", undefined, 0xffffffff), 400, /at most 1024/);
    });

    it("every DEK is fresh", async () => {
      const r = await client.batch(E, Array.from({ length: 64 }, () => ({
        id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse", message: { name: "gen", length: 32 },
      })));
      assert.equal(new Set(r.map((x) => bytes(x.plaintext).toString("hex"))).size, 64);
    });
  });

  describe("associated data and tampering", () => {
    let ct: Uint8Array;
    const ad = enc.encode(`{"my-bucket":"my-bucket/my-object"}`);
    const pt = enc.encode("the data encryption key, 32 byte");
    before(async () => {
      await client.createKey(E, "ad");
      ct = (await encrypt("ad", pt, ad)).ct;
      assert.ok((await decrypt("ad", ct, ad)).equals(bytes(pt)));
    });

    it("the wrong associated data is 400 invalid ciphertext", async () => {
      for (const wrong of [new Uint8Array(), enc.encode(`{"my-bucket":"my-bucket/other"}`), ad.subarray(1), new Uint8Array([...ad, 0])]) {
        await expectKmsError(client.decrypt(E, "ad", ct, wrong), 400, INVALID);
      }
    });

    it("one flipped bit anywhere in the ciphertext is 400 invalid ciphertext", async () => {
      for (let i = 0; i < ct.length; i++) {
        const bad = Uint8Array.from(ct);
        bad[i] ^= 1 << (i % 8);
        await expectKmsError(client.decrypt(E, "ad", bad, ad), 400, INVALID);
      }
    });

    it("a truncated or extended ciphertext is 400 invalid ciphertext", async () => {
      for (const len of [0, 1, 2, 6, 20, 40, ct.length - 17, ct.length - 16, ct.length - 1]) {
        await expectKmsError(client.decrypt(E, "ad", ct.subarray(0, len), ad), 400, INVALID);
      }
      await expectKmsError(client.decrypt(E, "ad", new Uint8Array([...ct, 0]), ad), 400, INVALID);
      await expectKmsError(client.decrypt(E, "ad", ct.subarray(1), ad), 400, INVALID);
    });

    it("the untouched ciphertext still opens after all that", async () => {
      assert.ok((await decrypt("ad", ct, ad)).equals(bytes(pt)));
    });
  });

  describe("import", () => {
    it("a 32-byte key imports; 16, 31, 33 and 0 bytes are 400; an existing name is 409", async () => {
      await client.importKey(E, "imp", randomBytes(32));
      assert.equal((await client.keyStatus(E, "imp")).version, 1);
      for (const size of [0, 16, 31, 33, 64]) {
        await expectKmsError(client.importKey(E, `imp-${size}`, randomBytes(size)), 400, /invalid key/);
        await expectKmsError(client.keyStatus(E, `imp-${size}`), 404, "key does not exist");
      }
      await expectKmsError(client.importKey(E, "imp", randomBytes(32)), 409, "key already exists");
    });

    it("the same bytes imported under two names give the same MAC, but neither opens the other's ciphertexts", async () => {
      const material = randomBytes(32);
      await client.importKey(E, "same-a", material);
      await client.importKey(E, "same-b", material);
      const [ma, mb] = await Promise.all([client.mac(E, "same-a", enc.encode("m")), client.mac(E, "same-b", enc.encode("m"))]);
      assert.ok(bytes(ma.mac).equals(bytes(mb.mac)), "same bytes, same MAC");
      // Ciphertexts are bound to their enclave and key name (format v2).
      const { ct } = await encrypt("same-a", enc.encode("shared"));
      assert.equal((await decrypt("same-a", ct)).toString(), "shared");
      await assert.rejects(decrypt("same-b", ct), (err: unknown) => (err as { status?: number }).status === 400);
    });

    it("an imported key can be rotated; its old version still opens", async () => {
      await client.importKey(E, "imp-rot", randomBytes(32), "ChaCha20");
      assert.equal((await client.keyStatus(E, "imp-rot")).type, "ChaCha20");
      const { ct } = await encrypt("imp-rot", enc.encode("v1"));
      await client.createKey(E, "imp-rot", "ChaCha20", true);
      assert.equal((await client.keyStatus(E, "imp-rot")).version, 2);
      assert.equal((await decrypt("imp-rot", ct)).toString(), "v1");
    });
  });

  describe("MAC", () => {
    it("is deterministic per key and version, 32 bytes, and differs across keys, versions and messages", async () => {
      await client.createKey(E, "mac-a");
      await client.createKey(E, "mac-b");
      const m = enc.encode("message");
      const a1 = bytes((await client.mac(E, "mac-a", m)).mac);
      assert.equal(a1.length, 32);
      assert.ok(bytes((await client.mac(E, "mac-a", m)).mac).equals(a1), "deterministic");
      assert.ok(!bytes((await client.mac(E, "mac-b", m)).mac).equals(a1), "another key, another MAC");
      assert.ok(!bytes((await client.mac(E, "mac-a", enc.encode("message!"))).mac).equals(a1), "another message, another MAC");
      assert.ok(!bytes((await client.mac(E, "mac-a", new Uint8Array())).mac).equals(a1));

      await client.createKey(E, "mac-a", "", true);
      const v2 = await client.mac(E, "mac-a", m);
      assert.equal(v2.version, 2);
      assert.ok(!bytes(v2.mac).equals(a1), "another version, another MAC");
      const v1 = await client.mac(E, "mac-a", m, 1);
      assert.equal(v1.version, 1);
      assert.ok(bytes(v1.mac).equals(a1), "version 1 still gives its MAC");
    });
  });

  describe("KES interop", () => {
    for (const type of ["AES256", "ChaCha20"] as const) {
      it(`a KES-format ${type} ciphertext under an imported key decrypts with version 0; the wrong AD does not`, async () => {
        const master = randomBytes(32);
        const name = `kes-${type}`;
        await client.importKey(E, name, master, type);
        const ad = enc.encode(`{"bucket":"bucket/object"}`);
        for (const size of [0, 1, 32, 1000]) {
          const pt = randomBytes(size);
          const ct = kesEncrypt(type, master, pt, ad);
          assert.equal(ct.length, size + 16 + 16 + 12, "sealed‖tag ‖ iv ‖ nonce");
          assert.ok((await decrypt(name, ct, ad)).equals(pt), `KES ${type} ciphertext of ${size} bytes`);
          assert.ok((await decrypt(name, ct, ad, 1)).equals(pt), "explicit version 1 too");
        }
        const ct = kesEncrypt(type, master, enc.encode("kes plaintext"), ad);
        await expectKmsError(client.decrypt(E, name, ct, enc.encode("{}")), 400, INVALID);
        await expectKmsError(client.decrypt(E, name, ct), 400, INVALID);
        const flipped = Uint8Array.from(ct);
        flipped[3] ^= 0x80;
        await expectKmsError(client.decrypt(E, name, flipped, ad), 400, INVALID);
        // Under another key the same bytes do not open.
        await expectKmsError(client.decrypt(E, "keep", ct, ad), 400, INVALID);

        // After a rotation the KES ciphertext (which names no version) still opens with version 0,
        // and an explicit version that is not the imported one refuses it.
        await client.createKey(E, name, type, true);
        assert.equal((await decrypt(name, ct, ad)).toString(), "kes plaintext");
        await expectKmsError(client.decrypt(E, name, ct, ad, 2), 400, INVALID);
      });
    }

    it("a KES ciphertext made under other key bytes does not open", async () => {
      await client.importKey(E, "kes-other", randomBytes(32));
      const ct = kesEncrypt("AES256", randomBytes(32), enc.encode("x"), new Uint8Array());
      await expectKmsError(client.decrypt(E, "kes-other", ct), 400, INVALID);
    });
  });

  it("the server survived every request and logged no internal error", () => {
    assertServerHealthy(server);
  });
});
