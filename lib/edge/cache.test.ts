import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyCache } from "./cache.ts";
import { KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey } from "./keystore.ts";

/** An in-memory store that counts calls and can be switched off. */
class FakeStore implements KeyStore {
  readonly kind = "fake";
  keys = new Map<string, MasterKey>();
  gets = 0;
  down = false;
  #release?: () => void;
  gate?: Promise<void>;
  hold() {
    this.gate = new Promise((r) => (this.#release = r));
  }
  release() {
    this.#release?.();
    this.gate = undefined;
  }
  async status() {
    if (this.down) throw new KeyStoreError("down");
    return { latencyMs: 1 };
  }
  async create(name: string, key: MasterKey) {
    this.keys.set(name, key);
    return key;
  }
  async get(name: string) {
    this.gets++;
    await this.gate;
    if (this.down) throw new KeyStoreError("down");
    const k = this.keys.get(name);
    if (!k) throw new KeyNotFoundError();
    return k;
  }
  async delete(name: string) {
    this.keys.delete(name);
  }
  async list() {
    return [...this.keys.keys()];
  }
  async close() {}
}

const mk = (): MasterKey => ({ type: "AES256", material: new Uint8Array(32).fill(1), createdAt: 0, createdBy: "" });
const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("concurrent misses for one key fetch it once", async () => {
  const store = new FakeStore();
  store.keys.set("k", mk());
  const cache = new KeyCache(store, { anyMs: 0, unusedMs: 0, offlineMs: 0 });
  store.hold();
  const all = Promise.all(Array.from({ length: 50 }, () => cache.get("k")));
  store.release();
  const keys = await all;
  assert.equal(store.gets, 1);
  assert.ok(keys.every((k) => k === keys[0]));
  await cache.get("k");
  assert.equal(store.gets, 1, "then served from the cache");
  // A failed fetch is not cached, and is shared too.
  store.hold();
  const misses = Promise.allSettled(Array.from({ length: 10 }, () => cache.get("absent")));
  store.release();
  assert.ok((await misses).every((r) => r.status === "rejected" && r.reason instanceof KeyNotFoundError));
  assert.equal(store.gets, 2);
});

test("'any' drops entries a fixed time after the fetch; 'unused' drops idle entries", async () => {
  // A clock of the test's own: the windows are judged exactly, however loaded the machine.
  let t = 1_000;
  const store = new FakeStore();
  store.keys.set("k", mk());
  const anyCache = new KeyCache(store, { anyMs: 40, unusedMs: 0, offlineMs: 0 }, () => t);
  await anyCache.get("k");
  t += 39;
  await anyCache.get("k");
  assert.equal(store.gets, 1, "served until 'any' has passed");
  t += 1;
  await anyCache.get("k");
  assert.equal(store.gets, 2, "refetched once 'any' has passed, used or not");

  const s2 = new FakeStore();
  s2.keys.set("k", mk());
  const unused = new KeyCache(s2, { anyMs: 0, unusedMs: 60, offlineMs: 0 }, () => t);
  await unused.get("k");
  // Used every 10 ms: never idle for 60 ms, so no refetch in 150 ms.
  for (let i = 0; i < 15; i++) {
    t += 10;
    await unused.get("k");
  }
  assert.equal(s2.gets, 1);
  t += 59;
  await unused.get("k");
  assert.equal(s2.gets, 1, "idle for less than 'unused'");
  t += 60;
  await unused.get("k");
  assert.equal(s2.gets, 2, "refetched after being unused");
});

test("offline: cached keys keep serving for the offline window, then fail; the probe tracks reachability", async () => {
  let t = 1_000;
  const store = new FakeStore();
  store.keys.set("k", mk());
  const cache = new KeyCache(store, { anyMs: 10, unusedMs: 10, offlineMs: 150 }, () => t);
  const changes: boolean[] = [];
  cache.onChange = (online) => changes.push(online);
  await cache.startProbe(10);
  await cache.get("k");
  store.down = true;
  await until(() => !cache.online, "the probe to see the store down");
  // Past 'any' and 'unused' but inside the offline window: still served, without the store.
  t += 30;
  const gets = store.gets;
  await cache.get("k");
  assert.equal(store.gets, gets);
  t += 119;
  await cache.get("k");
  assert.equal(store.gets, gets, "still inside the window");
  // After the window: the store is asked (and fails).
  t += 1;
  await assert.rejects(cache.get("k"), KeyStoreError);
  store.down = false;
  await until(() => cache.online, "the probe to see the store back");
  assert.deepEqual(await cache.get("k"), mk());
  assert.deepEqual(changes, [false, true]);
  cache.close();
});

test("an unreachable store seen by a fetch marks the cache offline at once", async () => {
  const store = new FakeStore();
  const cache = new KeyCache(store, { anyMs: 0, unusedMs: 0, offlineMs: 1000 });
  store.down = true;
  await assert.rejects(cache.get("k"), KeyStoreError);
  assert.equal(cache.online, false);
  cache.observe();
  assert.equal(cache.online, true);
});
