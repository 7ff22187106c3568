/** Installing a backup on one node, in process: two restores at once install one backup whole and refuse the other. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../hsm/soft.ts";
import { stateOf, stateRecords } from "../state/records.ts";
import { frozenCopy } from "../state/state.ts";
import { backupStream, openBackup, type OpenedBackup } from "../store/backup.ts";
import { readRootSeal } from "../store/root-key.ts";
import { openStore, type Store } from "../store/store.ts";
import { stopTestNode, testNode } from "../../tests/support/node.ts";
import { decodeCredentials, encodeCredentials } from "./credentials.ts";
import type { KmsNode } from "./node.ts";
import { allMaterial } from "./wipe.ts";

const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");

/** Runs `fn` with fresh nodes over their own stores, all with the HSM key `hsm`. */
async function withNodes(hsm: SoftHsm, n: number, fn: (nodes: KmsNode[]) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), "kms-restore-test-"));
  const stores: Store[] = [];
  const nodes: KmsNode[] = [];
  try {
    for (let i = 0; i < n; i++) {
      stores.push(await openStore(join(tmp, `data-${i}`), hsm));
      nodes.push(await testNode(stores[i], { hsm }));
    }
    await fn(nodes);
  } finally {
    for (const node of nodes) await stopTestNode(node);
    for (const store of stores) await store.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A backup of `node` (as GET /v1/db makes it), opened with `hsm` (as PUT /v1/db does). */
async function backupOf(node: KmsNode, hsm: SoftHsm): Promise<OpenedBackup> {
  const state = frozenCopy(node.state);
  const stream = backupStream({
    cluster: node.cluster, index: state.applied, commit: state.commit, compress: false,
    recipients: [...state.hsmKeys.values()], credentials: encodeCredentials(node.keys.creds), records: stateRecords(state),
  });
  return openBackup(stream, hsm, 1 << 30);
}

/** A source node holding one enclave `e` with the key `name`. */
async function withKey(node: KmsNode, name: string): Promise<void> {
  await node.write({ type: "enclave.create", name: "e", at: 1, by: "h1:admin" });
  await node.write({ type: "key.create", enclave: "e", name, keyType: "AES256", material: material(name.length), addVersion: false, at: 2, by: "h1:admin" });
}

test("two restores at once onto one fresh node: one installs its backup whole, the other is refused and changes nothing", async () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  await withNodes(hsm, 3, async ([one, two, target]) => {
    await withKey(one, "from-one");
    await withKey(two, "from-two-x");
    const [a, b] = [await backupOf(one, hsm), await backupOf(two, hsm)];
    const results = await Promise.allSettled([target.installBackup(a), target.installBackup(b)]);
    const won = results.findIndex((r) => r.status === "fulfilled");
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, "exactly one restore installs");
    const lost = results[1 - won] as PromiseRejectedResult;
    assert.equal(lost.reason.kind, "conflict");
    assert.match(lost.reason.message, /cannot restore onto this node/);
    const keys = [...target.state.enclave("e").keys.keys()];
    assert.deepEqual(keys, [won === 0 ? "from-one" : "from-two-x"], "the state is the installed backup's, nothing of the other");
    assert.equal(target.state.applied, (won === 0 ? a : b).header.index);
    // And once restored, the node is no longer fresh: a later restore is refused too.
    await assert.rejects(target.installBackup(a), { kind: "conflict", message: /already holds state/ });
  });
});

test("a restore whose write fails changes nothing: the node keeps its own credentials, stays fresh, and a retry installs the backup", async () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const tmp = await mkdtemp(join(tmpdir(), "kms-restore-test-"));
  const source = await openStore(join(tmp, "source"), hsm);
  const target = await openStore(join(tmp, "target"), hsm);
  const one = await testNode(source, { hsm });
  const node = await testNode(target, { hsm });
  try {
    await withKey(one, "from-one");
    const backup = await backupOf(one, hsm);
    const own = node.keys.creds;
    const credentialsOnDisk = () => decodeCredentials(readRootSeal(join(tmp, "target"), hsm).extra!);
    // The disk fails while the backup's state is written (one transaction: none of it lands).
    const write = target.write.bind(target);
    target.write = () => Promise.reject(new Error("disk full"));
    await assert.rejects(node.installBackup(backup), /disk full/);
    target.write = write;
    assert.deepEqual(node.keys.creds, own, "the node's credentials in memory are its own again");
    assert.deepEqual(credentialsOnDisk(), own, "and so are those sealed in root.seal");
    assert.equal(node.state.commit, 0);
    assert.equal(node.state.enclaves.has("e"), false);
    assert.equal(stateOf(await target.load()).enclaves.has("e"), false, "nothing of the backup is on disk");
    // Still fresh: the same backup installs now.
    await node.installBackup(backup);
    assert.ok(node.state.enclave("e").keys.has("from-one"));
    assert.deepEqual(credentialsOnDisk(), one.keys.creds);
  } finally {
    await stopTestNode(node);
    await stopTestNode(one);
    await source.close();
    await target.close();
    await rm(tmp, { recursive: true, force: true });
  }
});

test("a state replaced by a snapshot has its key material zeroed, once no backup reads it", async () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  await withNodes(hsm, 2, async ([source, behind]) => {
    await withKey(source, "new");
    await withKey(behind, "old-key");
    behind.state.keyRing("e", "old-key");
    const old = allMaterial(behind.state);
    assert.ok(old.length >= 1 && old.every((m) => m.some((b) => b !== 0)));
    const release = behind.wiper.hold(); // a backup running over the old state
    await behind.restore({ index: source.state.applied, term: 1, members: [], data: source.snapshot() });
    assert.deepEqual([...behind.state.enclave("e").keys.keys()], ["new"]);
    assert.ok(old.every((m) => m.some((b) => b !== 0)), "not zeroed under a running backup");
    release();
    assert.ok(old.every((m) => m.every((b) => b === 0)), "the replaced state's material is zeroed");
    assert.ok(behind.state.keyRing("e", "new").versions[0].material.some((b) => b !== 0), "the new state's is intact");
  });
});

test("a restored backup zeroes the key material of the state it replaces", async () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  await withNodes(hsm, 2, async ([source, target]) => {
    await withKey(source, "restored");
    const old = allMaterial(target.state); // a fresh node: no keys, but whatever it held goes
    const spy = target.wiper.wipe.bind(target.wiper);
    const wiped: Uint8Array[][] = [];
    target.wiper.wipe = (arrays) => (wiped.push([...arrays]), spy(arrays));
    await target.installBackup(await backupOf(source, hsm));
    assert.deepEqual(wiped.at(-1), old);
    assert.ok(target.state.keyRing("e", "restored").versions[0].material.some((b) => b !== 0));
  });
});
