/**
 * Rotating the HSM key of a running 3-node cluster (docs/recovery.md): add the
 * new key (refused, changing nothing, while a follower is frozen by SIGSTOP), restart the nodes one at a time with it, remove the old one. The
 * cluster serves reads and crypto throughout (the load goes, as through a
 * load balancer, to the nodes whose readiness check passes) with zero
 * failures; nodes with the old and the new key keep replicating (the node
 * credentials do not depend on the HSM key) and the CA file and admin API key
 * do not change. Removing the old key is refused while a node runs with it;
 * once removed and the node restarted, the old key unseals no directory. A
 * fresh node started with the new key joins after the rotation.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe } from "node:test";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { type Cluster, reportingSteps, startCluster, until } from "../helpers/cluster.ts";
import { cleanup, runKms, startServer, tempDir } from "../helpers/kms.ts";
import { startLoad } from "../helpers/load.ts";

const E = "tenant";
const KEYS = Array.from({ length: 10 }, (_, i) => `key-${i}`);
const NEW = SoftHsm.generate();
let cluster: Cluster;
let oldFp: string, newFp: string;

describe("HSM key rotation of a running 3-node cluster", () => {
  const { step, failed } = reportingSteps();
  let load: ReturnType<typeof startLoad>;
  let ca: string, apiKey: string;
  const before_: Array<{ key: string; plaintext: Uint8Array; ciphertext: Uint8Array }> = [];

  before(async () => {
    // Node 3 is fresh, started with the new key: it joins after the rotation.
    cluster = await startCluster({ size: 4, members: 3, hsmKeys: { 3: NEW } });
    oldFp = SoftHsm.parse(cluster.hsmKey).fingerprint;
    newFp = SoftHsm.parse(NEW).fingerprint;
    const c = cluster.client(0);
    await c.createEnclave(E);
    for (const k of KEYS) await c.createKey(E, k);
    for (const k of KEYS) {
      const g = await c.generate(E, k);
      before_.push({ key: k, plaintext: g.plaintext as Uint8Array, ciphertext: g.ciphertext as Uint8Array });
    }
    await cluster.waitConverged();
    ca = readFileSync(path.join(cluster.nodes[0].dir, CA_FILE), "utf8");
    apiKey = cluster.apiKey;
    load = startLoad([0, 1, 2].map((i) => cluster.client(i)), E, KEYS);
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await load?.stop();
    await cluster?.close();
    await cleanup();
  });

  step("add-hsm: the cluster configures the new key; every node seals its root key for it", async () => {
    const file = path.join(tempDir(), "new-hsm.key");
    writeFileSync(file, NEW + "\n", { mode: 0o600 });
    // A follower frozen (SIGSTOP): writes need every node, so the command is refused, naming the node,
    // and the refusal is true: once the node runs again, the cluster still has only the old key.
    const leader = await cluster.leader();
    assert.ok(leader !== undefined, "a leader");
    const frozen = [0, 1, 2].find((i) => i !== leader)!;
    const via = [0, 1, 2].find((i) => i !== frozen)!;
    const frozenId = await cluster.idOf(frozen);
    await load.pause(frozen);
    cluster.pause(frozen);
    try {
      // Once the leader counts the node as unreachable, a write is refused before it is proposed.
      await until(async () => (await cluster.ready(via, true)) === 503 || "writes still taken", "the cluster to refuse writes");
      const refused = await cluster.cli(["add-hsm", file], via);
      assert.notEqual(refused.code, 0, refused.stdout);
      assert.match(refused.stderr, new RegExp(`node ${frozenId} is unreachable`), refused.stderr);
    } finally {
      cluster.resume(frozen);
      load.resume(frozen);
    }
    await cluster.waitConverged();
    const unchanged = JSON.parse((await cluster.cli(["ls-hsm", "--json"], frozen)).stdout) as Array<{ fingerprint: string }>;
    assert.deepEqual(unchanged.map((k) => k.fingerprint), [oldFp], "the refused add-hsm changed nothing");
    const r = await cluster.cli(["add-hsm", file], 1);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(NEW.slice(11)) && !r.stderr.includes(NEW.slice(11)), "the key itself is never printed");
    const ls = JSON.parse((await cluster.cli(["ls-hsm", "--json"])).stdout) as Array<{ fingerprint: string; active_on: number[] }>;
    assert.deepEqual(ls.map((k) => k.fingerprint).sort(), [oldFp, newFp].sort());
    assert.deepEqual(ls.find((k) => k.fingerprint === oldFp)!.active_on.length, 3);
    // Every node's root.seal opens with the new key now (hsm check only reads).
    for (const i of [0, 1, 2]) {
      await until(async () => {
        const c = await runKms(["hsm", "check", cluster.nodes[i].dir], { MINIO_KMS_HSM_KEY: NEW });
        return c.code === 0 || c.stderr;
      }, `node ${i}'s root.seal to open with the new key`);
    }
  });

  step("restart the nodes one at a time with the new key: the cluster keeps replicating, the CA and admin key stay", async () => {
    for (const i of [0, 1, 2]) {
      await load.pause(i); // a load balancer drains the node before it stops
      assert.equal(await cluster.stop(i), 0);
      cluster.setHsmKey(i, NEW);
      await cluster.restart(i);
      await until(async () => (await cluster.ready(i)) === 200 || "not ready", `node ${i} ready`);
      load.resume(i);
      // Old-key and new-key nodes replicate together: a write commits on all three.
      await until(async () => {
        try {
          await cluster.client(i).createKey(E, `written-after-restart-${i}`);
          return true;
        } catch (err) {
          return (err as Error).message;
        }
      }, `a write through node ${i}`);
      await cluster.waitConverged();
      assert.equal(readFileSync(path.join(cluster.nodes[i].dir, CA_FILE), "utf8"), ca, "the CA file does not change");
      assert.equal(cluster.apiKeyOf(i), apiKey, "nor does the admin API key");
      if (i === 1) {
        // Node 2 still runs with the old key: removing it now is refused, naming the node.
        const r = await cluster.cli(["rm-hsm", oldFp], 0);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /node \d+ runs with it; restart it with another configured key first/);
      }
    }
    await cluster.assertSameState([0, 1, 2]);
  });

  step("rm-hsm of the old key; the load saw no failed read or crypto call", async () => {
    const r = await cluster.cli(["rm-hsm", oldFp], 2);
    assert.equal(r.code, 0, r.stderr);
    const ls = JSON.parse((await cluster.cli(["ls-hsm", "--json"])).stdout) as Array<{ fingerprint: string; active_on: number[] }>;
    assert.deepEqual(ls.map((k) => k.fingerprint), [newFp]);
    assert.deepEqual(ls[0].active_on.sort(), [0, 1, 2].map(String).map(Number).sort());
    const report = await load.stop();
    console.log(`load during the rotation: ${report.reads} reads, ${report.crypto} crypto calls; failed: ${report.failedReads.length} reads, ${report.failedCrypto.length} crypto`);
    assert.deepEqual(report.failedReads, []);
    assert.deepEqual(report.failedCrypto, []);
    assert.ok(report.reads > 0 && report.crypto > 0);
    for (const x of before_) assert.deepEqual((await cluster.client(2).decrypt(E, x.key, x.ciphertext)).plaintext, x.plaintext);
  });

  step("the old key no longer unseals: a node restarted with it is refused, and so is a copy checked with it", async () => {
    assert.equal(await cluster.stop(2), 0);
    const check = await runKms(["hsm", "check", cluster.nodes[2].dir], { MINIO_KMS_HSM_KEY: cluster.hsmKey });
    assert.notEqual(check.code, 0);
    assert.match(check.stderr, /HSM key does not match/);
    await assert.rejects(startServer({ dir: cluster.nodes[2].dir, hsmKey: cluster.hsmKey, timeoutMs: 15_000 }), /HSM key does not match/);
    await cluster.restart(2); // with the new key
    await cluster.waitConverged([0, 1, 2]);
  });

  step("a fresh node started with the new key joins after the rotation", async () => {
    await cluster.join(3, 1);
    await cluster.waitConverged();
    await cluster.assertSameState();
    assert.equal(readFileSync(path.join(cluster.nodes[3].dir, CA_FILE), "utf8"), ca, "it took the cluster's CA");
  });
});
