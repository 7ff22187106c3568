/**
 * Self-test of the cluster harness (tests/helpers/cluster.ts) with features
 * every server has, so it does not depend on clustering: independent
 * single-node clusters on fixed ports, each behind its proxy; kill -9 and
 * restart on the same port with the same state and certificate; cuts through
 * the proxy; the state hash (which must see every kind of write and nothing
 * else); convergence of a one-node cluster; deadlines; and cleanup.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { statSync } from "node:fs";
import { KmsClient } from "../../lib/client/client.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { type Cluster, canonicalJson, freePorts, startCluster, stateDiff, until } from "../helpers/cluster.ts";
import { cleanup } from "../helpers/kms.ts";

let cluster: Cluster;

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("harness: cluster", () => {
  before(async () => {
    // No --advertise and no joins: every node is its own single-node cluster.
    cluster = await startCluster({ size: 2, join: false, advertise: false });
  });
  after(async () => {
    await cluster?.close();
    await cleanup();
  });

  it("freePorts returns distinct ports that can be bound", async () => {
    const ports = await freePorts(8);
    assert.equal(new Set(ports).size, 8);
    for (const p of ports) assert.ok(p > 0 && p < 65536);
  });

  it("starts every node on its fixed port with its own directory, proxy and certificate; one admin key", async () => {
    assert.equal(cluster.nodes.length, 2);
    const [a, b] = cluster.nodes;
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.dir, b.dir);
    assert.notEqual(a.advertise, a.address);
    assert.match(a.ca, /BEGIN CERTIFICATE/);
    assert.deepEqual(cluster.aliveNodes(), [0, 1]);
    for (const n of cluster.nodes) {
      const v = await cluster.client(n.index).version();
      assert.equal(v.host, n.address);
      assert.equal(await cluster.ready(n.index), 200);
    }
    const ls = await cluster.cli(["ls", "--json"], 1);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(Object.values(JSON.parse(ls.stdout).nodes_up).map((s: any) => s.host), [b.address]);
  });

  it("status, idOf, leader and converged() work on a one-node cluster", async () => {
    const s = await cluster.status(0);
    const self = cluster.selfOf(0, s);
    assert.ok(self);
    assert.equal(self[1].role, "Leader");
    assert.equal(await cluster.idOf(0), Number(self[0]));
    assert.equal(await cluster.leader([0]), 0);
    assert.equal(await cluster.converged([0]), true);
    await cluster.waitConverged([0], 10_000);
    // Node 1 is not a member of node 0's cluster: it lists itself, not node 0.
    assert.match(String(await cluster.converged([0, 1])), /node 1 lists/);
  });

  it("the state hash sees every kind of write (enclaves, keys, versions, identities, policies) and nothing else", async () => {
    const c = cluster.client(0);
    const hashes = new Set<string>();
    const snap = async () => {
      const s = await cluster.stateHash(0);
      assert.ok(!hashes.has(s.hash), "every write changes the hash");
      hashes.add(s.hash);
      return s;
    };
    const empty = await snap();
    assert.deepEqual(empty.state, {});
    await c.createEnclave("h1");
    await snap();
    await c.createKey("h1", "k");
    await snap();
    await c.createKey("h1", "k", "", true); // version 2
    await snap();
    await c.createKey("h1", "k", "", true); // version 3
    await snap();
    await c.deleteKey("h1", "k", 2);
    const s1 = await snap();
    assert.deepEqual(Object.keys((s1.state as any).h1.keys), ["k"]);
    assert.deepEqual((s1.state as any).h1.keys.k.map((v: any) => v.version), [1, 3]);
    assert.match((s1.state as any).h1.keys.k[0].mac, /^hex:[0-9a-f]{64}$/);
    await c.createKey("h1", "cc", "ChaCha20");
    await snap();
    await c.createPolicy("h1", "p", { "KEY:ENCRYPT": ["k*"] });
    await snap();
    await c.createPolicy("h1", "p", { "KEY:ENCRYPT": ["k*"], "KEY:DECRYPT": ["*"] }); // replaced
    const s2 = await snap();
    assert.ok((s2.state as any).h1.policies.p.allow["KEY:DECRYPT"]);
    const id = parseApiKey(newApiKey()).identity;
    await c.createIdentity("h1", id, "User");
    await snap();
    await c.assignPolicy("h1", "p", id);
    const withoutH2 = await snap();
    await c.createEnclave("h2");
    await snap();
    // Reads and crypto change nothing.
    const before = await cluster.stateHash(0);
    await c.encrypt("h1", "k", new Uint8Array([1, 2, 3]));
    await c.generate("h1", "cc");
    await c.keyStatus("h1", "k");
    await c.listKeys("h1");
    assert.equal((await cluster.stateHash(0)).hash, before.hash);
    // Deleting the enclave brings the state back to what it was before it was created.
    await c.deleteEnclave("h2");
    assert.equal((await cluster.stateHash(0)).hash, withoutH2.hash);
  });

  it("stateDiff names the differing paths; assertSameState fails with them", async () => {
    assert.deepEqual(stateDiff({ a: { b: 1, c: [1, 2] } }, { a: { b: 2, c: [1, 2] } }), ["/a/b: 1 ≠ 2"]);
    assert.deepEqual(stateDiff({ x: 1 }, { x: 1 }), []);
    assert.equal(canonicalJson({ b: new Uint8Array([255]), a: 1n }), `{"a":"1","b":"hex:ff"}`);
    await assert.rejects(cluster.assertSameState([0, 1]), /node 1's state differs from node 0's[\s\S]*\/h1/);
    assert.match(await cluster.assertSameState([0]), /^[0-9a-f]{64}$/);
  });

  it("kill -9 and restart: same port, same certificate, same state; restarting a running node is refused", async () => {
    const before = await cluster.stateHash(0);
    const ca = cluster.nodes[0].ca;
    const pid = cluster.nodes[0].server!.process.pid;
    await assert.rejects(cluster.restart(0), /node 0 is running/);
    await cluster.kill9(0);
    assert.equal(cluster.alive(0), false);
    assert.deepEqual(cluster.aliveNodes(), [1]);
    assert.equal(await listening(cluster.nodes[0].port), false);
    assert.equal(await cluster.ready(0), 0);
    await cluster.restart(0);
    assert.notEqual(cluster.nodes[0].server!.process.pid, pid);
    assert.equal(cluster.nodes[0].ca, ca);
    assert.equal((await cluster.stateHash(0)).hash, before.hash);
    // Clients reach the restarted node at the same address.
    const c = cluster.client(0);
    await until(async () => (await c.keyStatus("h1", "k"), true as const), "a client to reach the restarted node", 10_000);
    assert.match(cluster.logs(0), /--- start \(pid \d+\) ---[\s\S]*--- start \(pid \d+\) ---/);
    assert.match(cluster.report(), /kill -9 node 0[\s\S]*restarted node 0/);
  });

  it("stop() with SIGTERM exits 0; restart brings the node back", async () => {
    assert.equal(await cluster.stop(1), 0);
    await cluster.restart(1);
    assert.equal(await cluster.ready(1), 200);
  });

  it("a restart whose port was taken while the node was down fails naming who holds the port; it starts once the port is free", async () => {
    const port = cluster.nodes[1].port;
    await cluster.kill9(1);
    // What another process's freePorts() and server could do while the node is down.
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen({ host: "127.0.0.1", port }, () => resolve()));
    try {
      await assert.rejects(cluster.restart(1), (err: Error) => {
        assert.match(err.message, /already in use/);
        assert.match(err.message, new RegExp(`port ${port} now: LISTEN 127\\.0\\.0\\.1:${port} held by pid ${process.pid} \\(`));
        return true;
      });
      assert.equal(cluster.alive(1), false);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    await cluster.restart(1);
    assert.equal(await cluster.ready(1), 200);
  });

  it("cut(i) stops traffic to node i through its proxy (both directions); clients that go direct are untouched; heal(i) restores it", async () => {
    const n = cluster.nodes[0];
    const viaProxy = () => new KmsClient({ servers: [n.advertise], apiKey: cluster.apiKey, ca: n.ca, timeoutMs: 2_000 });
    const c1 = viaProxy();
    assert.equal((await c1.keyStatus("h1", "k")).name, "k");
    cluster.cut(0);
    assert.deepEqual(cluster.cutNodes(), [0]);
    await assert.rejects(viaProxy().keyStatus("h1", "k"), (e: Error) => !("status" in e));
    assert.equal((await cluster.client(0).keyStatus("h1", "k")).name, "k", "direct clients still reach the node");
    // Node 0's own connections to the other proxies are refused too (it is the blocked origin there).
    assert.ok(cluster.nodes[1].proxy.connections().every((c) => c.origin !== "node-0"));
    cluster.heal(0);
    assert.equal((await viaProxy().keyStatus("h1", "k")).name, "k");
    // Blackhole mode: the request hangs until the client's deadline.
    cluster.cut(0, "blackhole");
    const t0 = Date.now();
    await assert.rejects(viaProxy().keyStatus("h1", "k"));
    assert.ok(Date.now() - t0 >= 1_500, "a blackholed request waits for the client's timeout");
    cluster.heal(0);
    assert.equal((await viaProxy().keyStatus("h1", "k")).name, "k");
    c1.close();
  });

  it("healAll() heals every cut and restarts every killed node", async () => {
    cluster.cut(1);
    await cluster.kill9(0);
    await cluster.healAll();
    assert.deepEqual(cluster.cutNodes(), []);
    assert.deepEqual(cluster.aliveNodes(), [0, 1]);
  });

  it("until() fails at its deadline with the last reason", async () => {
    const t0 = Date.now();
    await assert.rejects(until(() => "still 3 nodes down", "the impossible", 300), /timed out after 300 ms waiting for the impossible; last: still 3 nodes down/);
    assert.ok(Date.now() - t0 < 2_000);
    await assert.rejects(until(() => { throw new Error("boom"); }, "x", 100), /last: Error: boom/);
  });

  it("close() kills every node, closes every proxy and removes the data", async () => {
    const other = await startCluster({ size: 2, join: false, advertise: false });
    const ports = other.nodes.flatMap((n) => [n.port, n.proxy.port]);
    const pids = other.nodes.map((n) => n.server!.process.pid!);
    for (const p of ports) assert.equal(await listening(p), true);
    await other.close();
    await other.close(); // idempotent
    for (const p of ports) assert.equal(await listening(p), false, `port ${p} is closed`);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.throws(() => statSync(other.root), /ENOENT/);
  });
});
