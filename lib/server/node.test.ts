import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../hsm/soft.ts";
import type { Command } from "../state/commands.ts";
import { KmsError } from "../state/errors.ts";
import { stateOf } from "../state/records.ts";
import { openStore, type Store } from "../store/store.ts";
import { KmsNode } from "./node.ts";

const INFO = { version: "test", host: "h:1", startedAt: 0, adminIdentity: "h1:admin" };
const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");
const enclaveCreate = (name: string): Command => ({ type: "enclave.create", name, at: 1, by: "h1:admin" });
const keyCreate = (enclave: string, name: string, addVersion = false, fill = 1): Command => ({
  type: "key.create", enclave, name, keyType: "AES256", material: material(fill), addVersion, at: 2, by: "h1:admin",
});

/** A store whose write() can be made to fail, delegating everything else to a real store. */
class FlakyStore implements Store {
  failWith: Error | undefined;
  writes = 0;
  constructor(readonly inner: Store) {}
  get created() {
    return this.inner.created;
  }
  load() {
    return this.inner.load();
  }
  write(changes: Parameters<Store["write"]>[0]) {
    this.writes++;
    if (this.failWith) return Promise.reject(this.failWith);
    return this.inner.write(changes);
  }
  close() {
    return this.inner.close();
  }
}

interface Fixture {
  node: KmsNode;
  store: FlakyStore;
  fatal: unknown[];
  dir: string;
  hsm: SoftHsm;
}

async function withNode(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), "kms-node-test-"));
  try {
    const dir = join(tmp, "data");
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = new FlakyStore(await openStore(dir, hsm));
    try {
      const fatal: unknown[] = [];
      const node = new KmsNode(stateOf(await store.load()), store, INFO, (err) => fatal.push(err));
      await fn({ node, store, fatal, dir, hsm });
    } finally {
      await store.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const snapshot = (node: KmsNode) => structuredClone({ commit: node.state.commit, enclaves: node.state.enclaves });

test("write applies a command durably, then makes it visible; a reopened store rebuilds the same state", async () => {
  await withNode(async ({ node, store, fatal, dir, hsm }) => {
    await node.write(enclaveCreate("e1"));
    await node.write(keyCreate("e1", "k", false, 1));
    await node.write(keyCreate("e1", "k", true, 2));
    assert.equal(node.state.commit, 3);
    assert.deepEqual(node.state.keyRing("e1", "k").versions.map((v) => v.version), [1, 2]);
    assert.deepEqual(stateOf(await store.load()), node.state);
    await store.close();
    const reopened = await openStore(dir, hsm);
    try {
      assert.deepEqual(stateOf(await reopened.load()), node.state);
    } finally {
      await reopened.close();
    }
    assert.deepEqual(fatal, []);
  });
});

test("a command that is invalid here rejects with its KmsError, writes nothing and is not fatal", async () => {
  await withNode(async ({ node, store, fatal }) => {
    await node.write(enclaveCreate("e1"));
    const before = snapshot(node);
    const records = await store.load();
    const writes = store.writes;
    await assert.rejects(node.write(enclaveCreate("e1")), (e: unknown) => e instanceof KmsError && e.status === 409 && e.message === "enclave already exists");
    await assert.rejects(node.write(keyCreate("nope", "k")), { status: 404, message: "enclave does not exist" });
    await assert.rejects(node.write(keyCreate("e1", "k", true)), { status: 404, message: "key does not exist" });
    assert.equal(store.writes, writes, "the store is not touched");
    assert.deepEqual(snapshot(node), before);
    assert.deepEqual(await store.load(), records);
    assert.deepEqual(fatal, []);
  });
});

test("a failing store write calls onFatal with the error, rejects, and leaves the state unchanged", async () => {
  await withNode(async ({ node, store, fatal }) => {
    await node.write(enclaveCreate("e1"));
    await node.write(keyCreate("e1", "k"));
    const before = snapshot(node);
    const records = await store.load();
    const disk = new Error("disk on fire");
    store.failWith = disk;
    for (const cmd of [enclaveCreate("e2"), keyCreate("e1", "k", true, 9), { type: "enclave.delete", name: "e1" } as Command]) {
      await assert.rejects(node.write(cmd), (e: unknown) => e === disk);
    }
    assert.deepEqual(fatal, [disk, disk, disk]);
    assert.deepEqual(snapshot(node), before, "nothing became visible");
    assert.equal(node.state.enclaves.has("e2"), false);
    assert.deepEqual(node.state.keyRing("e1", "k").versions.map((v) => v.version), [1]);
    assert.equal(node.state.commit, 2);
    assert.deepEqual(await store.load(), records, "nothing was written either");
  });
});

test("writes issued together run one at a time, each seeing the one before", async () => {
  await withNode(async ({ node, store, fatal }) => {
    // Without awaiting: the key creations depend on the enclave, the rotations on the key.
    const pending = [
      node.write(enclaveCreate("e1")),
      node.write(keyCreate("e1", "k", false, 1)),
      node.write(keyCreate("e1", "k", true, 2)),
      node.write(keyCreate("e1", "k", true, 3)),
      node.write(enclaveCreate("e1")), // must see the first one
      node.write(keyCreate("e1", "k2")),
    ];
    const results = await Promise.allSettled(pending);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled"]);
    assert.equal(((results[4] as PromiseRejectedResult).reason as KmsError).status, 409);
    assert.deepEqual(node.state.keyRing("e1", "k").versions.map((v) => v.version), [1, 2, 3]);
    assert.deepEqual(node.state.keyVersion("e1", "k", 3).material, new Uint8Array(32).fill(3));
    assert.equal(node.state.commit, 5);
    assert.deepEqual(stateOf(await store.load()), node.state);
    assert.deepEqual(fatal, []);
  });
});

test("a write that fails validation does not block the writes queued after it", async () => {
  await withNode(async ({ node }) => {
    const first = node.write(keyCreate("missing", "k"));
    const second = node.write(enclaveCreate("e1"));
    await assert.rejects(first, { status: 404 });
    await second;
    assert.ok(node.state.enclaves.has("e1"));
  });
});

test("the state is changed only after the store write completes", async () => {
  await withNode(async ({ store }) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const writing = new Promise<void>((r) => (entered = r));
    const inner = store.inner;
    const slow: Store = {
      created: false,
      load: () => inner.load(),
      close: () => inner.close(),
      write: async (changes) => {
        entered();
        await gate;
        await inner.write(changes);
      },
    };
    const node = new KmsNode(stateOf(await inner.load()), slow, INFO, () => {});
    const pending = node.write(enclaveCreate("e1"));
    await writing;
    assert.equal(node.state.enclaves.has("e1"), false, "not visible while the write is in flight");
    assert.equal(node.state.commit, 0);
    release();
    await pending;
    assert.equal(node.state.enclaves.has("e1"), true);
    assert.equal(node.state.commit, 1);
  });
});
