/**
 * Seed 000's cluster walkthrough, as written, with the compiled binary
 * (KMS_BINARY, default dist/kms: build it with ./compile.sh) and the CLI for
 * every step: three servers with one HSM key, an enclave and a key on the
 * first, `add` the other two, `ls`, `stat-key` on a joined node, kill two
 * nodes, `ls`, `stat-key` and crypto on the survivor, `add-key` fails fast,
 * bring the two back, `add-key` works and is visible on all three.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe } from "node:test";
import { type Cluster, reportingSteps, startCluster } from "../helpers/cluster.ts";
import { cleanup, type RunResult } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BINARY = process.env.KMS_BINARY || "dist/kms";

let cluster: Cluster;

/** Runs the CLI against node(s) and asserts success; returns stdout (parsed with --json). */
async function kms(args: string[], nodes: number | number[] = 0): Promise<any> {
  const r: RunResult = await cluster.cli(args, nodes);
  assert.equal(r.code, 0, `kms ${args.join(" ")} (node ${nodes}): exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return args.includes("--json") ? JSON.parse(r.stdout) : r.stdout;
}

type Ls = { nodes_up: Record<string, { host: string; role: string; commit: number; leader_id: number }>; nodes_down: Record<string, string> };

describe("cluster: seed 000 walkthrough with the compiled binary", () => {
  const { step, failed } = reportingSteps();
  before(async () => {
    assert.ok(existsSync(path.resolve(ROOT, BINARY)), `${BINARY} is missing: build it with ./compile.sh`);
    // Three servers, one HSM key, each its own single-node cluster for now.
    cluster = await startCluster({ size: 3, join: false, binary: BINARY });
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });


  step("a fresh server is a single-node cluster; an enclave and a key on it", async () => {
    const ls: Ls = await kms(["ls", "--json"]);
    assert.deepEqual(Object.values(ls.nodes_up).map((s) => [s.host, s.role]), [[cluster.nodes[0].advertise, "Leader"]]);
    assert.deepEqual(ls.nodes_down, {});
    await kms(["add-enclave", "enclave-1"]);
    await kms(["add-key", "--enclave", "enclave-1", "key-1"]);
    const st = await kms(["stat-key", "--enclave", "enclave-1", "key-1", "--json"]);
    assert.equal(st.name, "key-1");
  });

  step("`add` the two other servers by the address they print (their advertised address)", async () => {
    for (const i of [1, 2]) {
      const out = await kms(["add", cluster.nodes[i].advertise]);
      assert.match(out, new RegExp(`Added ${cluster.nodes[i].advertise}`));
      cluster.members.add(i);
    }
    await cluster.waitConverged();
  });

  step("`ls` lists three nodes, all up, exactly one Leader, and every node agrees", async () => {
    for (const i of [0, 1, 2]) {
      const ls: Ls = await kms(["ls", "--json"], i);
      const up = Object.values(ls.nodes_up);
      assert.deepEqual(up.map((s) => s.host).sort(), cluster.nodes.map((n) => n.advertise).sort(), `ls on node ${i}`);
      assert.deepEqual(ls.nodes_down, {});
      assert.equal(up.filter((s) => s.role === "Leader").length, 1, `one leader (ls on node ${i}): ${JSON.stringify(up.map((s) => s.role))}`);
      assert.equal(up.filter((s) => s.role === "Follower").length, 2);
    }
    const text = await kms(["ls"]);
    assert.match(text, /ID\s+ADDRESS\s+ROLE\s+COMMIT\s+STATE/);
    assert.equal(text.match(/\bup$/gm)?.length, 3, text);
  });

  step("`stat-key` on a joined node sees the key created before it joined", async () => {
    const on0 = await kms(["stat-key", "--enclave", "enclave-1", "key-1", "--json"], 0);
    for (const i of [1, 2]) {
      const st = await kms(["stat-key", "--enclave", "enclave-1", "key-1", "--json"], i);
      assert.deepEqual(st, on0, `stat-key on node ${i}`);
    }
    assert.equal(await cluster.assertSameState([0, 1, 2]), (await cluster.stateHash(0)).hash);
  });

  let ciphertext = "";
  step("kill two nodes: `ls` on the survivor shows them down, `stat-key` and crypto still work", async () => {
    ciphertext = (await kms(["encrypt", "--enclave", "enclave-1", "key-1", "before the outage"], 0)).trim();
    await cluster.kill9(1);
    await cluster.kill9(2);
    const ls: Ls = await kms(["ls", "--json"], 0);
    assert.equal(Object.keys(ls.nodes_up).length, 1, JSON.stringify(ls));
    assert.deepEqual(Object.values(ls.nodes_down).sort(), [cluster.nodes[1].advertise, cluster.nodes[2].advertise].sort());
    assert.match(await kms(["ls"], 0), /\bdown\b[\s\S]*\bdown\b/);
    const st = await kms(["stat-key", "--enclave", "enclave-1", "key-1", "--json"], 0);
    assert.equal(st.name, "key-1");
    assert.equal((await kms(["decrypt", "--enclave", "enclave-1", "key-1", ciphertext], 0)).trim(), "before the outage");
    const ct = (await kms(["encrypt", "--enclave", "enclave-1", "key-1", "during the outage"], 0)).trim();
    assert.equal((await kms(["decrypt", "--enclave", "enclave-1", "key-1", ct], 0)).trim(), "during the outage");
    const dek = await kms(["keygen", "--enclave", "enclave-1", "key-1", "--json"], 0);
    assert.equal(Buffer.from(dek.plaintext, "base64").length, 32);
    assert.match((await kms(["mac", "--enclave", "enclave-1", "key-1", "m"], 0)).trim(), /^[A-Za-z0-9+/]{43}=$/);
  });

  step("`add-key` on the survivor fails fast (503 within a few seconds) and changes nothing", async () => {
    const before = await cluster.stateHash(0);
    const t0 = performance.now();
    const r = await cluster.cli(["add-key", "--enclave", "enclave-1", "key-2"], 0, 20_000);
    const ms = performance.now() - t0;
    assert.notEqual(r.code, 0, `add-key must fail with two nodes down: ${r.stdout}`);
    assert.ok(ms < 5_000, `add-key took ${ms.toFixed(0)} ms (must fail fast)`);
    assert.ok(r.stderr.trim().length > 0, "a message says why");
    console.log(`add-key with two nodes down: exit ${r.code} after ${ms.toFixed(0)} ms: ${r.stderr.trim()}`);
    // The same write over the protocol: HTTP 503 with a message, also fast.
    const t1 = performance.now();
    await assert.rejects(cluster.client(0).createKey("enclave-1", "key-2"), (e: Error & { status?: number }) => {
      assert.equal(e.status, 503, `${e.message}`);
      assert.ok(e.message.length > 0);
      return true;
    });
    assert.ok(performance.now() - t1 < 5_000);
    const st = await cluster.cli(["stat-key", "--enclave", "enclave-1", "key-2"], 0);
    assert.notEqual(st.code, 0, "the failed key does not exist");
    assert.match(st.stderr, /key does not exist/);
    assert.equal((await cluster.stateHash(0)).hash, before.hash);
  });

  step("bring the two back: the cluster converges, `add-key` works and the key is visible on all three", async () => {
    await cluster.restart(1);
    await cluster.restart(2);
    await cluster.waitConverged();
    await kms(["add-key", "--enclave", "enclave-1", "key-2"], 0);
    const on0 = await kms(["stat-key", "--enclave", "enclave-1", "key-2", "--json"], 0);
    for (const i of [1, 2]) assert.deepEqual(await kms(["stat-key", "--enclave", "enclave-1", "key-2", "--json"], i), on0, `key-2 on node ${i}`);
    // A write through a follower is forwarded and visible everywhere too.
    await kms(["add-key", "--enclave", "enclave-1", "key-3"], 2);
    for (const i of [0, 1, 2]) assert.equal((await kms(["stat-key", "--enclave", "enclave-1", "key-3", "--json"], i)).name, "key-3");
    await cluster.waitConverged();
    await cluster.assertSameState([0, 1, 2]);
    // The ciphertext from before the outage decrypts on every node.
    for (const i of [0, 1, 2]) assert.equal((await kms(["decrypt", "--enclave", "enclave-1", "key-1", ciphertext], i)).trim(), "before the outage");
  });
});
