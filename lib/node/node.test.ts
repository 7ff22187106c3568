import { test } from "node:test";
import assert from "node:assert/strict";
import { statusOf } from "../wire/errors.ts";
import { Buffer } from "node:buffer";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../hsm/soft.ts";
import type { Command } from "../state/commands.ts";
import { KmsError } from "../state/errors.ts";
import { stateOf } from "../state/records.ts";
import { openStore, type Store } from "../store/store.ts";
import type { KmsNode } from "./node.ts";
import { stopTestNode, testNode } from "../../tests/support/node.ts";

const material = (fill: number) => Buffer.alloc(32, fill).toString("base64");
const enclaveCreate = (name: string): Command => ({ type: "enclave.create", name, at: 1, by: "h1:admin" });
const keyCreate = (enclave: string, name: string, addVersion = false, fill = 1): Command => ({
  type: "key.create", enclave, name, keyType: "AES256", material: material(fill), addVersion, at: 2, by: "h1:admin",
});

/** A store that passes everything on to a real one; tests override what they need. */
class DelegatingStore implements Store {
  constructor(readonly inner: Store) {}
  get created() {
    return this.inner.created;
  }
  get generation() {
    return this.inner.generation;
  }
  load() {
    return this.inner.load();
  }
  write(changes: Parameters<Store["write"]>[0], durable?: boolean) {
    return this.inner.write(changes, durable);
  }
  get seal() {
    return this.inner.seal;
  }
  reseal(...args: Parameters<Store["reseal"]>) {
    return this.inner.reseal(...args);
  }
  erase() {
    return this.inner.erase();
  }
  close() {
    return this.inner.close();
  }
}

/** A store whose write() can be made to fail. */
class FlakyStore extends DelegatingStore {
  failWith: Error | undefined;
  writes = 0;
  override write(changes: Parameters<Store["write"]>[0], durable?: boolean) {
    this.writes++;
    if (this.failWith) return Promise.reject(this.failWith);
    return super.write(changes, durable);
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
      const node = await testNode(store, { onFatal: (err) => fatal.push(err) });
      try {
        await fn({ node, store, fatal, dir, hsm });
      } finally {
        await stopTestNode(node);
      }
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

test("a command that is invalid here rejects with its KmsError, changes no state and is not fatal", async () => {
  await withNode(async ({ node, store, fatal }) => {
    await node.write(enclaveCreate("e1"));
    const before = snapshot(node);
    const records = await store.load();
    await assert.rejects(node.write(enclaveCreate("e1")), (e: unknown) => e instanceof KmsError && statusOf(e) === 409 && e.message === "enclave already exists");
    await assert.rejects(node.write(keyCreate("nope", "k")), { kind: "not-found", message: "enclave does not exist" });
    await assert.rejects(node.write(keyCreate("e1", "k", true)), { kind: "not-found", message: "key does not exist" });
    assert.deepEqual(snapshot(node), before);
    // The failed commands are in the log (they fail identically on every node), but the state records are as before.
    const { applied: _a, ...was } = stateOf(records);
    const { applied: _b, ...now } = stateOf(await store.load());
    assert.deepEqual(now, was);
    assert.deepEqual(fatal, []);
  });
});

test("a failing store write stops the node: onFatal gets the error, the write's outcome is unknown (504), nothing changes here", async () => {
  await withNode(async ({ node, store, fatal }) => {
    await node.write(enclaveCreate("e1"));
    await node.write(keyCreate("e1", "k"));
    const before = snapshot(node);
    const records = await store.load();
    const disk = new Error("disk on fire");
    store.failWith = disk;
    // In a cluster the entry may already sit on other nodes, which could commit it: not a definite failure.
    await assert.rejects(node.write(enclaveCreate("e2")), (e: KmsError) => statusOf(e) === 504 && /^outcome unknown: the node failed/.test(e.message));
    assert.deepEqual(fatal, [disk], "the node stopped on the first failed write");
    // A stopped node takes no more writes.
    await assert.rejects(node.write(keyCreate("e1", "k", true, 9)), { kind: "unavailable" });
    assert.deepEqual(snapshot(node), before, "nothing became visible");
    assert.equal(node.state.enclaves.has("e2"), false);
    store.failWith = undefined;
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
    assert.equal(statusOf((results[4] as PromiseRejectedResult).reason), 409);
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
    await assert.rejects(first, { kind: "not-found" });
    await second;
    assert.ok(node.state.enclaves.has("e1"));
  });
});

test("a write is visible only once it is durable: in the log, then applied", async () => {
  await withNode(async ({ node, store }) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const writing = new Promise<void>((r) => (entered = r));
    const write = store.write.bind(store);
    store.write = async (changes) => {
      entered();
      await gate;
      return write(changes);
    };
    const pending = node.write(enclaveCreate("e1"));
    await writing;
    assert.equal(node.state.enclaves.has("e1"), false, "not visible while the log write is in flight");
    assert.equal(node.state.commit, 0);
    release();
    await pending;
    assert.equal(node.state.enclaves.has("e1"), true);
    assert.equal(node.state.commit, 1);
  });
});

test("a burst of key deletions: once the node settles, no stored record holds a deleted key's material", async () => {
  await withNode(async ({ node, store, fatal }) => {
    await node.write(enclaveCreate("e1"));
    for (let i = 1; i <= 20; i++) await node.write(keyCreate("e1", `k${i}`, false, i));
    const holding = async () => {
      const found: string[] = [];
      for (const [k, v] of await store.load()) {
        const text = Buffer.from(v).toString();
        for (let i = 1; i <= 20; i += 2) if (text.includes(material(i))) found.push(`${k} holds k${i}`);
      }
      return found;
    };
    assert.ok((await holding()).length >= 20, "the log and the key rings hold the material before");
    // Deletions arrive faster than erasing: the requests collapse, and the last run covers them all.
    await Promise.all([...Array(10).keys()].map((j) => node.write({ type: "key.delete", enclave: "e1", name: `k${2 * j + 1}`, version: 0, allVersions: true })));
    const deadline = Date.now() + 10_000;
    let left = await holding();
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      left = await holding();
    }
    assert.deepEqual(left, []);
    assert.equal(node.state.enclave("e1").keys.size, 10);
    assert.deepEqual(fatal, []);
  });
});

/**
 * A store that models a power loss: writes made without `durable` (no fsync)
 * stay in the page cache, here a queue, until the next durable write syncs
 * them in order; powerLoss() drops what was never synced.
 */
class PowerLossStore extends DelegatingStore {
  #unsynced: Array<Parameters<Store["write"]>[0]> = [];
  durableWrites = 0;
  override async write(changes: Parameters<Store["write"]>[0], durable = true) {
    if (!durable) {
      this.#unsynced.push(changes);
      return;
    }
    this.durableWrites++;
    for (const earlier of this.#unsynced.splice(0)) await this.inner.write(earlier);
    await this.inner.write(changes);
  }
  /** What a power loss does to the writes not yet synced. */
  powerLoss() {
    this.#unsynced = [];
  }
}

test("one fsync per write: applying is unsynced, and after a power loss the node applies the acknowledged writes again from its log", async () => {
  const tmp = await mkdtemp(join(tmpdir(), "kms-node-test-"));
  try {
    const hsm = SoftHsm.parse(SoftHsm.generate());
    const store = new PowerLossStore(await openStore(join(tmp, "data"), hsm));
    try {
      const node = await testNode(store, { hsm });
      let acknowledged: unknown;
      try {
        await node.write(enclaveCreate("e1"));
        const before = store.durableWrites;
        await node.write(keyCreate("e1", "k", false, 7));
        assert.equal(store.durableWrites - before, 1, "the log append is the write's one durable transaction");
        acknowledged = structuredClone(node.state.keyRing("e1", "k").versions);
      } finally {
        await stopTestNode(node);
      }
      store.powerLoss();
      const onDisk = stateOf(await store.load());
      assert.throws(() => onDisk.keyRing("e1", "k"), { kind: "not-found" }, "the key's state records were lost with the power");
      const restarted = await testNode(store, { hsm });
      try {
        assert.deepEqual(restarted.state.keyRing("e1", "k").versions, acknowledged, "applied again from the durable log");
      } finally {
        await stopTestNode(restarted);
      }
    } finally {
      await store.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test("the read barrier with nothing pending answers without reading what the request reads", async () => {
  await withNode(async ({ node }) => {
    await node.write(enclaveCreate("e1"));
    let consumed = 0;
    const reads: Iterable<string> = { *[Symbol.iterator]() { consumed++; yield "enclave/e1"; } };
    await node.readBarrier(reads);
    assert.equal(consumed, 0, "a request on an idle node builds no set of its reads");
  });
});
