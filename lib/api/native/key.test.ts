import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { apply } from "../../state/apply.ts";
import { fromTimestamp } from "../../wire/proto.ts";
import { ADMIN, frame, type TestKms, withKms } from "../../../tests/support/app.ts";

const te = new TextEncoder();
const arr = (b: unknown) => [...(b as Uint8Array)];
type KeyStatus = { name: string; version: number; type: string; created_at: unknown; created_by: string };

/** A node with enclave e1 ready. */
async function withEnclave(fn: (kms: TestKms) => Promise<void>): Promise<void> {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await fn(kms);
  });
}

test("KEY:CREATE (201): type '' is AES256; ChaCha20 on request; KEY:STATUS (204) shows version 1 and provenance", async () => {
  await withEnclave(async (kms) => {
    const before = Date.now();
    assert.deepEqual(await kms.call("e1", 201, { name: "a" }), {});
    await kms.call("e1", 201, { name: "b", type: "AES256" });
    await kms.call("e1", 201, { name: "c", type: "ChaCha20" });
    const after = Date.now();
    const expected: Record<string, string> = { a: "AES256", b: "AES256", c: "ChaCha20" };
    for (const name of ["a", "b", "c"]) {
      const s = (await kms.call("e1", 204, { name })) as KeyStatus;
      assert.deepEqual([s.name, s.version, s.type, s.created_by], [name, 1, expected[name], ADMIN]);
      const at = fromTimestamp(s.created_at);
      assert.ok(at >= before && at <= after);
    }
    // Fresh random material per key.
    const m = (n: string) => Buffer.from(kms.node.state.keyVersion("e1", n, 1).material).toString("hex");
    assert.notEqual(m("a"), m("b"));
    assert.equal(kms.node.state.keyVersion("e1", "a", 1).material.length, 32);
    await kms.assertDurable();
  });
});

test("KEY:CREATE errors: existing key 409, add_version on a missing key 404", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    await kms.fail(409, "key already exists", "e1", 201, { name: "k" });
    await kms.fail(409, "key already exists", "e1", 201, { name: "k", type: "ChaCha20" });
    await kms.fail(404, "key does not exist", "e1", 201, { name: "nope", add_version: true });
  });
});

test("KEY:CREATE with add_version rotates: versions 1, 2, 3; KEY:STATUS version 0 is the latest", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    await kms.call("e1", 201, { name: "k", add_version: true });
    await kms.call("e1", 201, { name: "k", add_version: true, type: "ChaCha20" });
    assert.deepEqual(kms.node.state.keyRing("e1", "k").versions.map((v) => v.version), [1, 2, 3]);
    const latest = (await kms.call("e1", 204, { name: "k", version: 0 })) as KeyStatus;
    assert.deepEqual([latest.version, latest.type], [3, "ChaCha20"]);
    assert.equal(((await kms.call("e1", 204, { name: "k", version: 2 })) as KeyStatus).version, 2);
    assert.equal(((await kms.call("e1", 204, { name: "k", version: 1 })) as KeyStatus).type, "AES256");
    await kms.fail(404, "key does not exist", "e1", 204, { name: "k", version: 4 });
    await kms.fail(404, "key does not exist", "e1", 204, { name: "nope" });
    await kms.assertDurable();
  });
});

test("KEY:DELETE (202): version 0 deletes the latest, a number deletes that one, all_versions the key; numbers are never reused", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    await kms.call("e1", 201, { name: "k", add_version: true });
    await kms.call("e1", 201, { name: "k", add_version: true });
    const versions = () => kms.node.state.keyRing("e1", "k").versions.map((v) => v.version);
    assert.deepEqual(await kms.call("e1", 202, { name: "k", version: 0 }), {});
    assert.deepEqual(versions(), [1, 2]);
    await kms.call("e1", 202, { name: "k", version: 1 });
    assert.deepEqual(versions(), [2]);
    await kms.call("e1", 201, { name: "k", add_version: true });
    assert.deepEqual(versions(), [2, 4], "version 3 was deleted and is not handed out again");
    await kms.assertDurable();
    await kms.fail(404, "key does not exist", "e1", 202, { name: "k", version: 3 });
    await kms.fail(404, "key does not exist", "e1", 202, { name: "nope" });
    await kms.fail(404, "key does not exist", "e1", 202, { name: "nope", all_versions: true });
    await kms.call("e1", 202, { name: "k", all_versions: true });
    await kms.fail(404, "key does not exist", "e1", 204, { name: "k" });
    await kms.fail(404, "key does not exist", "e1", 202, { name: "k", all_versions: true });
    await kms.assertDurable();
    assert.deepEqual([...(await kms.store.load()).keys()].filter((k) => k.includes("/k")), []);
  });
});

test("KEY:DELETE of the last version removes the key; the name can be created again", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    await kms.call("e1", 202, { name: "k", version: 1 });
    await kms.fail(404, "key does not exist", "e1", 204, { name: "k" });
    await kms.fail(404, "key does not exist", "e1", 201, { name: "k", add_version: true });
    assert.deepEqual((await kms.call("e1", 208, {})).keys, []);
    await kms.call("e1", 201, { name: "k" });
    assert.equal(((await kms.call("e1", 204, { name: "k" })) as KeyStatus).name, "k");
  });
});

test("KEY:IMPORT (203) stores the given 32 bytes; 409 on an existing key", async () => {
  await withEnclave(async (kms) => {
    const key = new Uint8Array(32).map((_, i) => i * 7);
    assert.deepEqual(await kms.call("e1", 203, { name: "imp", key }), {});
    assert.deepEqual(arr(kms.node.state.keyVersion("e1", "imp", 1).material), [...key]);
    const s = (await kms.call("e1", 204, { name: "imp" })) as KeyStatus;
    assert.deepEqual([s.version, s.type, s.created_by], [1, "AES256", ADMIN]);
    await kms.call("e1", 203, { name: "imp2", type: "ChaCha20", key });
    assert.equal(((await kms.call("e1", 204, { name: "imp2" })) as KeyStatus).type, "ChaCha20");
    await kms.fail(409, "key already exists", "e1", 203, { name: "imp", key: new Uint8Array(32) });
    await kms.assertDurable();
  });
});

test("KEY:MAC (210): HMAC-SHA256 under the key's MAC sub-key; deterministic; per version", async () => {
  await withEnclave(async (kms) => {
    const key = new Uint8Array(32).fill(0x42);
    await kms.call("e1", 203, { name: "m", key });
    const message = te.encode("message to authenticate");
    const r = await kms.call("e1", 210, { name: "m", message });
    // Independent computation: sub-key = HMAC(master, "kms/v1/mac"), mac = HMAC(sub-key, message).
    const sub = createHmac("sha256", key).update("kms/v1/mac").digest();
    const want = createHmac("sha256", sub).update(message).digest();
    assert.equal(r.version, 1);
    assert.deepEqual(arr(r.mac), [...want]);
    assert.deepEqual(arr((await kms.call("e1", 210, { name: "m", message })).mac), [...want]);
    assert.notDeepEqual(arr((await kms.call("e1", 210, { name: "m", message: te.encode("other") })).mac), [...want]);
    // An empty message is valid.
    assert.equal(((await kms.call("e1", 210, { name: "m" })).mac as Uint8Array).length, 32);

    await kms.call("e1", 201, { name: "m", add_version: true });
    const latest = await kms.call("e1", 210, { name: "m", message });
    assert.equal(latest.version, 2);
    assert.notDeepEqual(arr(latest.mac), [...want]);
    const v1 = await kms.call("e1", 210, { name: "m", version: 1, message });
    assert.equal(v1.version, 1);
    assert.deepEqual(arr(v1.mac), [...want]);
    await kms.fail(404, "key does not exist", "e1", 210, { name: "m", version: 3, message });
    await kms.fail(404, "key does not exist", "e1", 210, { name: "nope", message });
  });
});

test("KEY:ENCRYPT (205) / KEY:DECRYPT (206) round trip with associated data, for both key types", async () => {
  await withEnclave(async (kms) => {
    for (const type of ["AES256", "ChaCha20"]) {
      const name = `k-${type}`;
      await kms.call("e1", 201, { name, type });
      for (const plaintext of [new Uint8Array(0), te.encode("hello"), new Uint8Array(5000).fill(3)]) {
        const ad = te.encode('{"bucket":"object"}');
        const enc = await kms.call("e1", 205, { name, plaintext, associated_data: ad });
        assert.equal(enc.version, 1);
        const ct = enc.ciphertext as Uint8Array;
        assert.ok(ct.length > plaintext.length);
        assert.notDeepEqual(arr(ct).slice(-plaintext.length), [...plaintext]);
        const dec = await kms.call("e1", 206, { name, ciphertext: ct, associated_data: ad });
        assert.deepEqual(arr(dec.plaintext), [...plaintext]);
        // Wrong associated data, or none, does not open it.
        await kms.fail(400, "invalid ciphertext", "e1", 206, { name, ciphertext: ct, associated_data: te.encode("other") });
        await kms.fail(400, "invalid ciphertext", "e1", 206, { name, ciphertext: ct });
        // Any flipped bit is detected.
        for (const at of [0, 2, 5, 10, ct.length - 1]) {
          const bad = ct.slice();
          bad[at] ^= 1;
          await kms.fail(400, "invalid ciphertext", "e1", 206, { name, ciphertext: bad, associated_data: ad });
        }
      }
    }
  });
});

test("KEY:DECRYPT with version 0 finds the version from the ciphertext after rotation", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    const old = await kms.call("e1", 205, { name: "k", plaintext: te.encode("v1 data") });
    await kms.call("e1", 201, { name: "k", add_version: true, type: "ChaCha20" });
    const now = await kms.call("e1", 205, { name: "k", plaintext: te.encode("v2 data") });
    assert.equal(old.version, 1);
    assert.equal(now.version, 2);
    const pinned = await kms.call("e1", 205, { name: "k", version: 1, plaintext: te.encode("pinned") });
    assert.equal(pinned.version, 1);
    assert.deepEqual(arr((await kms.call("e1", 206, { name: "k", ciphertext: old.ciphertext })).plaintext), [...te.encode("v1 data")]);
    assert.deepEqual(arr((await kms.call("e1", 206, { name: "k", ciphertext: now.ciphertext })).plaintext), [...te.encode("v2 data")]);
    assert.deepEqual(arr((await kms.call("e1", 206, { name: "k", version: 1, ciphertext: pinned.ciphertext })).plaintext), [...te.encode("pinned")]);
    // Naming another version than the ciphertext's does not open it.
    await kms.fail(400, "invalid ciphertext", "e1", 206, { name: "k", version: 2, ciphertext: old.ciphertext });
    // Once its version is deleted, the ciphertext is gone for good.
    await kms.call("e1", 202, { name: "k", version: 1 });
    await kms.fail(400, "invalid ciphertext", "e1", 206, { name: "k", ciphertext: old.ciphertext });
    assert.deepEqual(arr((await kms.call("e1", 206, { name: "k", ciphertext: now.ciphertext })).plaintext), [...te.encode("v2 data")]);
  });
});

test("KEY:DECRYPT: garbage is 400 'invalid ciphertext'; a ciphertext does not open under another key; missing key 404", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "a" });
    await kms.call("e1", 201, { name: "b" });
    for (const ciphertext of [new Uint8Array(0), new Uint8Array(10), new Uint8Array(100).fill(0x6b), te.encode("not a ciphertext at all, but long enough to look like one.......")]) {
      await kms.fail(400, "invalid ciphertext", "e1", 206, { name: "a", ciphertext });
    }
    const ct = (await kms.call("e1", 205, { name: "a", plaintext: te.encode("x") })).ciphertext;
    await kms.fail(400, "invalid ciphertext", "e1", 206, { name: "b", ciphertext: ct });
    await kms.fail(404, "key does not exist", "e1", 206, { name: "nope", ciphertext: ct });
    await kms.fail(404, "key does not exist", "e1", 205, { name: "nope", plaintext: te.encode("x") });
    await kms.fail(404, "key does not exist", "e1", 205, { name: "a", version: 2, plaintext: te.encode("x") });
    // Keys are per enclave: the same name elsewhere is another key.
    await kms.call("", 101, { name: "e2" });
    await kms.call("e2", 201, { name: "a" });
    await kms.fail(400, "invalid ciphertext", "e2", 206, { name: "a", ciphertext: ct });
  });
});

test("KEY:GENERATE (207): length 0 gives 32 bytes, up to 1024; the ciphertext decrypts to the plaintext with the same associated data", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    const ad = te.encode('{"my-bucket":"my-bucket/my-object"}');
    for (const [length, want] of [[0, 32], [1, 1], [32, 32], [64, 64], [1024, 1024]]) {
      const r = await kms.call("e1", 207, { name: "k", length, associated_data: ad });
      assert.equal(r.version, 1);
      assert.equal((r.plaintext as Uint8Array).length, want, `length ${length}`);
      const dec = await kms.call("e1", 206, { name: "k", ciphertext: r.ciphertext, associated_data: ad });
      assert.deepEqual(arr(dec.plaintext), arr(r.plaintext));
    }
    const a = await kms.call("e1", 207, { name: "k" });
    const b = await kms.call("e1", 207, { name: "k" });
    assert.notDeepEqual(arr(a.plaintext), arr(b.plaintext));
    await kms.call("e1", 201, { name: "k", add_version: true });
    assert.equal((await kms.call("e1", 207, { name: "k" })).version, 2);
    assert.equal((await kms.call("e1", 207, { name: "k", version: 1 })).version, 1);
    await kms.fail(404, "key does not exist", "e1", 207, { name: "nope" });
    await kms.fail(404, "key does not exist", "e1", 207, { name: "k", version: 9 });
  });
});

test("KEY:LIST (208): each key once with its latest version, sorted, paged by prefix, limit and continue_at", async () => {
  await withEnclave(async (kms) => {
    const names = ["minio-b", "zz", "minio-a", "aa", "minio-c", "mini"];
    for (const name of names) await kms.call("e1", 201, { name });
    await kms.call("e1", 201, { name: "minio-b", add_version: true, type: "ChaCha20" });
    await kms.call("", 101, { name: "e2" });
    await kms.call("e2", 201, { name: "minio-x" });
    const list = async (req: Record<string, unknown>) => {
      const r = await kms.call("e1", 208, req);
      return { keys: r.keys as KeyStatus[], continueAt: r.continue_at as string };
    };
    const all = await list({});
    assert.deepEqual(all.keys.map((k) => k.name), [...names].sort());
    assert.equal(all.continueAt, "");
    const b = all.keys.find((k) => k.name === "minio-b")!;
    assert.deepEqual([b.version, b.type, b.created_by], [2, "ChaCha20", ADMIN]);
    assert.deepEqual((await list({ prefix: "minio-" })).keys.map((k) => k.name), ["minio-a", "minio-b", "minio-c"]);

    const p1 = await list({ prefix: "minio-", limit: 2 });
    assert.deepEqual(p1.keys.map((k) => k.name), ["minio-a", "minio-b"]);
    assert.equal(p1.continueAt, "minio-c");
    const p2 = await list({ prefix: "minio-", limit: 2, continue_at: p1.continueAt });
    assert.deepEqual(p2.keys.map((k) => k.name), ["minio-c"]);
    assert.equal(p2.continueAt, "");

    const seen: string[] = [];
    let at = "";
    do {
      const p = await list({ limit: 1, continue_at: at });
      assert.equal(p.keys.length, 1);
      seen.push(p.keys[0].name);
      at = p.continueAt;
      assert.ok(seen.length <= names.length);
    } while (at !== "");
    assert.deepEqual(seen, [...names].sort());
  });
});

test("key commands in a pipelined read batch see the same state; writes are visible to the next request", async () => {
  await withEnclave(async (kms) => {
    await kms.call("e1", 201, { name: "k" });
    const [enc, status] = await kms.batch("e1", [frame(205, { name: "k", plaintext: te.encode("p") }), frame(204, { name: "k" })]);
    assert.equal(enc.version, (status as KeyStatus).version);
    await kms.call("e1", 201, { name: "k", add_version: true });
    const [gen, st2] = await kms.batch("e1", [frame(207, { name: "k" }), frame(204, { name: "k" })]);
    assert.equal(gen.version, 2);
    assert.equal((st2 as KeyStatus).version, 2);
  });
});

test("KEY:LIST pages hold at most 1,000 keys: limit 0 and limits above 1,000 mean 1,000", async () => {
  await withEnclave(async (kms) => {
    // Filled straight into the in-memory state: listing reads memory only.
    const material = Buffer.alloc(32, 1).toString("base64");
    const names = Array.from({ length: 1001 }, (_, i) => `k${String(i).padStart(4, "0")}`);
    for (const name of names) apply(kms.node.state, { type: "key.create", enclave: "e1", name, keyType: "AES256", material, addVersion: false, at: 1, by: ADMIN });
    for (const limit of [0, 1001, 5000, 4294967295]) {
      const r = await kms.call("e1", 208, { limit });
      assert.equal((r.keys as KeyStatus[]).length, 1000, `limit ${limit}`);
      assert.equal(r.continue_at, "k1000");
    }
    const rest = await kms.call("e1", 208, { continue_at: "k1000" });
    assert.deepEqual((rest.keys as KeyStatus[]).map((k) => k.name), ["k1000"]);
    assert.equal(rest.continue_at, "");
  });
});
