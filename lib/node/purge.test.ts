/** Deletion protection in one node, with an injected clock: kept for the window, purged once after it, material zeroed. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../hsm/soft.ts";
import { stateOf } from "../state/records.ts";
import { openStore, type Store } from "../store/store.ts";
import type { KmsNode } from "./node.ts";
import { duePurges, purgeDue } from "./purge.ts";
import { stopTestNode, testNode } from "../../tests/support/node.ts";

const WINDOW = 60_000;
const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");

async function withNode(recoveryWindowMs: number, fn: (node: KmsNode, store: Store, now: { t: number }) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), "kms-purge-test-"));
  const store = await openStore(join(tmp, "data"), SoftHsm.parse(SoftHsm.generate()));
  const node = await testNode(store, { recoveryWindowMs });
  const now = { t: 1_000_000 };
  node.clock = () => now.t;
  try {
    await node.write({ type: "enclave.create", name: "e", at: 1, by: "h1:admin" });
    for (const [fill, addVersion] of [[1, false], [2, true]] as const) {
      await node.write({ type: "key.create", enclave: "e", name: "k", keyType: "AES256", material: material(fill), addVersion, at: 2, by: "h1:admin" });
    }
    await fn(node, store, now);
  } finally {
    await stopTestNode(node);
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

const deleteKey = (node: KmsNode) =>
  node.write({ type: "key.delete", enclave: "e", name: "k", version: 0, allVersions: true, ...node.deletionStamp("h1:admin") });

test("a deleted key is kept, sealed, until its window passes; then one purge drops it everywhere and zeroes its bytes", async () => {
  await withNode(WINDOW, async (node, store, now) => {
    const bytes = node.state.keyRing("e", "k").versions.map((v) => v.material);
    await deleteKey(node);
    assert.throws(() => node.state.keyRing("e", "k"), /key does not exist/);
    const [item] = node.state.deleted.values();
    assert.equal(item.purgeAt, now.t + WINDOW);
    assert.ok(bytes.every((b) => b.some((x) => x !== 0)), "kept, not zeroed");
    assert.deepEqual(stateOf(await store.load()).deleted, node.state.deleted, "kept durably");
    // Not due a millisecond before the window ends: nothing is proposed.
    now.t += WINDOW - 1;
    assert.deepEqual(duePurges(node, now.t), []);
    const commit = node.state.commit;
    await purgeDue(node);
    assert.equal(node.state.commit, commit, "nothing proposed");
    now.t += 1;
    assert.deepEqual(duePurges(node, now.t), [item.id]);
    await purgeDue(node);
    assert.equal(node.state.deleted.size, 0);
    assert.equal(stateOf(await store.load()).deleted.size, 0, "purged durably");
    assert.ok(bytes.every((b) => b.every((x) => x === 0)), "the purged key's bytes are zeroed in memory");
    // A purge proposed again (a new leader that had not seen the first applied) purges nothing more.
    await node.write({ type: "deleted.purge", ids: [item.id], at: now.t });
    assert.equal(node.state.deleted.size, 0);
  });
});

test("a purge carries the leader's clock: an item not yet due at that time is not purged, whatever a node's own clock says", async () => {
  await withNode(WINDOW, async (node) => {
    await deleteKey(node);
    const [item] = node.state.deleted.values();
    await node.write({ type: "deleted.purge", ids: [item.id], at: item.purgeAt - 1 });
    assert.equal(node.state.deleted.size, 1, "not due at the command's time");
    await node.write({ type: "deleted.purge", ids: [item.id], at: item.purgeAt });
    assert.equal(node.state.deleted.size, 0);
  });
});

test("undelete before the purge brings back every version; with a window of 0 a deletion is final at once", async () => {
  await withNode(WINDOW, async (node) => {
    await deleteKey(node);
    await node.write({ type: "key.undelete", enclave: "e", name: "k" });
    assert.deepEqual(node.state.keyRing("e", "k").versions.map((v) => v.version), [1, 2]);
    assert.deepEqual(node.state.keyVersion("e", "k", 1).material, new Uint8Array(32).fill(1));
    assert.equal(node.state.deleted.size, 0);
  });
  await withNode(0, async (node) => {
    const bytes = node.state.keyRing("e", "k").versions.map((v) => v.material);
    await deleteKey(node);
    assert.equal(node.state.deleted.size, 0, "nothing kept");
    assert.ok(bytes.every((b) => b.every((x) => x === 0)), "zeroed at once");
    await assert.rejects(node.write({ type: "key.undelete", enclave: "e", name: "k" }), /no deleted key of that name/);
  });
});

test("a running backup holds the bytes it captured: a purge zeroes them only once it is done", async () => {
  await withNode(WINDOW, async (node, _store, now) => {
    const bytes = node.state.keyRing("e", "k").versions.map((v) => v.material);
    await deleteKey(node);
    const release = node.wiper.hold();
    now.t += WINDOW;
    await purgeDue(node);
    assert.equal(node.state.deleted.size, 0);
    assert.ok(bytes.every((b) => b.some((x) => x !== 0)), "still readable by the backup");
    release();
    assert.ok(bytes.every((b) => b.every((x) => x === 0)));
  });
});
