/**
 * What one KEY:DECRYPT may open and what it may cost: ciphertexts are bound to
 * their enclave and key name, KES-format ones open only under imported bytes,
 * and a pipelined flood is bounded by counting AEAD opens (never by timing).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DecryptBudget, BudgetExceededError, decryptOpens, decryptWithVersions } from "../../crypto/keyring.ts";
import { apply, MAX_KEY_VERSIONS } from "../../state/apply.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { kesAesEncrypt } from "../../../tests/helpers/kes-format.ts";
import { ADMIN, frame, type TestKms, withKms } from "../../../tests/support/app.ts";
import { decode } from "../../wire/proto.ts";
import { DECRYPT_BUDGET, MAX_FRAMES } from "./route.ts";

const te = new TextEncoder();
const arr = (b: unknown) => [...(b as Uint8Array)];
const SAME_BYTES = new Uint8Array(32).map((_, i) => i + 1);

/** A node with enclaves X and Y. */
async function withEnclaves(fn: (kms: TestKms) => Promise<void>): Promise<void> {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "X" });
    await kms.call("", 101, { name: "Y" });
    await fn(kms);
  });
}

test("the same key bytes imported as X/keyA and Y/keyB do not open each other's ciphertexts", async () => {
  await withEnclaves(async (kms) => {
    await kms.call("X", 203, { name: "keyA", key: SAME_BYTES });
    await kms.call("Y", 203, { name: "keyB", key: SAME_BYTES });
    await kms.call("X", 203, { name: "keyB", key: SAME_BYTES }); // same name, other enclave
    const ad = te.encode('{"bucket":"b/o"}');
    const a = await kms.call("X", 205, { name: "keyA", plaintext: te.encode("tenant X"), associated_data: ad });
    const g = await kms.call("X", 207, { name: "keyA", associated_data: ad });
    assert.deepEqual(arr((await kms.call("X", 206, { name: "keyA", ciphertext: a.ciphertext, associated_data: ad })).plaintext), [...te.encode("tenant X")]);
    for (const ciphertext of [a.ciphertext, g.ciphertext]) {
      await kms.fail(400, "invalid ciphertext", "Y", 206, { name: "keyB", ciphertext, associated_data: ad });
      await kms.fail(400, "invalid ciphertext", "X", 206, { name: "keyB", ciphertext, associated_data: ad });
    }
    // The KES API on the same node makes bound ciphertexts too (it shares the encoder); checked in e2e.
  });
});

test("ciphertexts made before v2 keep decrypting: v1 (fixture from the v1 encoder) and KES format under imported bytes", async () => {
  await withEnclaves(async (kms) => {
    await kms.call("X", 203, { name: "k", key: SAME_BYTES });
    const ad = te.encode('{"my-bucket":"my-bucket/my-object"}');
    const v1 = Buffer.from("awEAAAADUN1uBCLvfv7+6xh28zYgp8FwSzsEx0/r5NAAZJHxkrpDcSqGSSNz7Kt0OrUFeAJnbqTNfm/fUbtQ8k1W+3vP6X4=", "base64");
    // The fixture names version 3: give the key versions 2 and 3 with the same bytes, as a migration would.
    for (const at of [2, 3]) {
      apply(kms.node.state, { type: "key.create", enclave: "X", name: "k", keyType: "AES256", material: encodeBase64(SAME_BYTES), addVersion: true, at, by: ADMIN });
    }
    assert.deepEqual(arr((await kms.call("X", 206, { name: "k", ciphertext: new Uint8Array(v1), associated_data: ad })).plaintext), [...te.encode("made by the v1 format")]);
    const kes = kesAesEncrypt(SAME_BYTES, te.encode("made by KES"), ad);
    assert.deepEqual(arr((await kms.call("X", 206, { name: "k", ciphertext: kes, associated_data: ad })).plaintext), [...te.encode("made by KES")]);
  });
});

test("KES-format ciphertexts open only under imported versions, not under generated ones", async () => {
  await withEnclaves(async (kms) => {
    // The same bytes as a generated version (as if the server had made them) and as an imported one.
    apply(kms.node.state, { type: "key.create", enclave: "X", name: "gen", keyType: "AES256", material: encodeBase64(SAME_BYTES), addVersion: false, at: 1, by: ADMIN });
    apply(kms.node.state, { type: "key.create", enclave: "X", name: "imp", keyType: "AES256", material: encodeBase64(SAME_BYTES), addVersion: false, imported: true, at: 1, by: ADMIN });
    const kes = kesAesEncrypt(SAME_BYTES, te.encode("kes"), new Uint8Array(0));
    await kms.fail(400, "invalid ciphertext", "X", 206, { name: "gen", ciphertext: kes });
    assert.deepEqual(arr((await kms.call("X", 206, { name: "imp", ciphertext: kes })).plaintext), [...te.encode("kes")]);
    assert.equal(kms.node.state.keyRing("X", "imp").versions[0].imported, true);
    assert.equal(kms.node.state.keyRing("X", "gen").versions[0].imported, false);
  });
});

test(`a key holds at most ${MAX_KEY_VERSIONS} versions: the next rotation is a clear 409`, async () => {
  await withEnclaves(async (kms) => {
    await kms.call("X", 201, { name: "k" });
    for (let i = 1; i < MAX_KEY_VERSIONS; i++) {
      apply(kms.node.state, { type: "key.create", enclave: "X", name: "k", keyType: "AES256", material: encodeBase64(SAME_BYTES), addVersion: true, at: i, by: ADMIN });
    }
    assert.equal(kms.node.state.keyRing("X", "k").versions.length, MAX_KEY_VERSIONS);
    // (kms.fail would compare the store too, which the direct applies above bypassed.)
    const res = await kms.send("X", [frame(201, { name: "k", add_version: true })]);
    assert.equal(res.status, 409);
    assert.equal(decode("ErrResponse", new Uint8Array(await res.arrayBuffer())).message, `key has too many versions: at most ${MAX_KEY_VERSIONS} (delete old versions first)`);
    assert.equal(kms.node.state.keyRing("X", "k").versions.length, MAX_KEY_VERSIONS);
    await kms.call("X", 202, { name: "k", version: 1 });
    await kms.call("X", 201, { name: "k", add_version: true }); // deleting one makes room
  });
});

test("a pipelined decrypt flood against a key with the most versions costs at most two AEAD opens per frame", async () => {
  await withEnclaves(async (kms) => {
    // KES ciphertexts under an imported version 1, rotated to the cap: before the
    // fix each frame tried every version newest first (1,000 opens per frame).
    await kms.call("X", 203, { name: "k", key: SAME_BYTES });
    for (let i = 1; i < MAX_KEY_VERSIONS; i++) {
      apply(kms.node.state, { type: "key.create", enclave: "X", name: "k", keyType: "AES256", material: encodeBase64(SAME_BYTES), addVersion: true, at: i, by: ADMIN });
    }
    const kes = kesAesEncrypt(SAME_BYTES, te.encode("old data"), new Uint8Array(0));
    const start = decryptOpens();
    const replies = await kms.batch("X", Array.from({ length: MAX_FRAMES }, () => frame(206, { name: "k", ciphertext: kes })));
    assert.equal(replies.length, MAX_FRAMES);
    assert.deepEqual(arr(replies[MAX_FRAMES - 1].plaintext), [...te.encode("old data")]);
    const spent = decryptOpens() - start;
    assert.ok(spent <= 2 * MAX_FRAMES, `${MAX_FRAMES} frames cost ${spent} AEAD opens`);
    // Ciphertexts that name their version cost one open each, whichever version.
    const named = (await kms.call("X", 205, { name: "k", version: 500, plaintext: te.encode("x") })).ciphertext as Uint8Array;
    const at = decryptOpens();
    await kms.batch("X", Array.from({ length: 1000 }, () => frame(206, { name: "k", ciphertext: named })));
    assert.equal(decryptOpens() - at, 1000);
    // Garbage, and a forged ciphertext naming a real version: at most the named version plus the imported one.
    const forged = named.slice();
    forged[forged.length - 1] ^= 1;
    for (const ciphertext of [te.encode("garbage long enough to be tried as a KES ciphertext, at least 44 bytes"), forged]) {
      const before = decryptOpens();
      await kms.fail(400, "invalid ciphertext", "X", 206, { name: "k", ciphertext });
      assert.ok(decryptOpens() - before <= 2, `one bad frame cost ${decryptOpens() - before} opens`);
    }
  });
});

test("the per-request budget stops decryption once spent, whatever the key", () => {
  const versions = Array.from({ length: 5 }, (_, i) => ({ version: i + 1, type: "AES256" as const, material: SAME_BYTES, imported: true }));
  const budget = new DecryptBudget(3);
  const garbage = new Uint8Array(80);
  const binding = new Uint8Array(32);
  // Five imported versions (only possible by hand): the third open exhausts the budget mid-way.
  assert.throws(() => decryptWithVersions(versions, 0, garbage, new Uint8Array(0), binding, budget), BudgetExceededError);
  assert.throws(() => decryptWithVersions(versions, 0, garbage, new Uint8Array(0), binding, budget), BudgetExceededError);
  assert.equal(DECRYPT_BUDGET, 2 * MAX_FRAMES);
});
