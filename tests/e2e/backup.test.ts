/**
 * Backup and restore (docs/recovery.md): a backup of a 3-node cluster taken
 * under a read, crypto and write load fails no read or crypto call; restored
 * on a fresh node it is a new single-node cluster with exactly the backed-up
 * state (the state hash the backup carries, computed by the source at its
 * index) and decrypts ciphertexts made before the backup, with the source
 * cluster's CA file and admin API key. A quiescent backup restores to the
 * source's state as an outside client sees it. A backup sealed for another
 * HSM key, a truncated or edited one, one of a newer format, and a target
 * that is not fresh are refused with a clear message and change nothing in
 * the target's directory (file hashes before and after).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe } from "node:test";
import { KmsClient } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { adminApiKeyOf } from "../../lib/server/admin-key.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { type Cluster, reportingSteps, startCluster, until } from "../helpers/cluster.ts";
import { rawRequest } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";
import { startLoad } from "../helpers/load.ts";

const E = "tenant";
const KEYS = Array.from({ length: 20 }, (_, i) => `key-${i}`);
let cluster: Cluster;
let work: string;
const ciphertexts: Array<{ key: string; plaintext: Uint8Array; ciphertext: Uint8Array }> = [];
/** A ciphertext of a key deleted before the backup (kept for its recovery window): a backup must keep it too. */
let deletedCt: { key: string; plaintext: Uint8Array; ciphertext: Uint8Array };
/** The node the first backup was restored on. */
let restored: KmsServer;

/**
 * Every file of a data directory with its SHA-256: what "changes nothing" is
 * checked against. The audit trail (audit/) is left out: it records the
 * refused attempts, as it must.
 */
function fileHashes(dir: string): Record<string, string> {
  const files = readdirSync(dir).sort().filter((f) => f !== "audit");
  return Object.fromEntries(files.map((f) => [f, createHash("sha256").update(readFileSync(path.join(dir, f))).digest("hex")]));
}

/** The state hash node `server` reports, with its index. */
async function dbHash(port: number, ca: string, apiKey: string): Promise<{ index: number; state_hash: string }> {
  const r = await rawRequest({ port, ca, apiKey }, { method: "GET", path: "/v1/db/hash", timeoutMs: 20_000 });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString());
}

/** A fresh server with the cluster's HSM key (or another). */
const fresh = (hsmKey = cluster.hsmKey) => startServer({ hsmKey, dir: path.join(tempDir(), "fresh") });

/** Runs `kms restore FILE --to` the fresh server with its own admin key. */
const restore = (file: string, target: KmsServer) =>
  runKms(["restore", file, "--to", target.address, "--json"], { ...target.env(), KMS_CA: target.caFile }, { timeoutMs: 60_000 });

describe("backup and restore", () => {
  const { step, failed } = reportingSteps();
  before(async () => {
    work = tempDir();
    cluster = await startCluster({ size: 3 });
    const c = cluster.client(0);
    await c.createEnclave(E);
    for (const k of KEYS) await c.createKey(E, k);
    await c.createKey(E, "key-0", "", true); // a second version
    for (const k of KEYS.slice(0, 10)) {
      const g = await c.generate(E, k);
      ciphertexts.push({ key: k, plaintext: g.plaintext as Uint8Array, ciphertext: g.ciphertext as Uint8Array });
    }
    await c.createKey(E, "deleted-before");
    const g = await c.generate(E, "deleted-before");
    deletedCt = { key: "deleted-before", plaintext: g.plaintext as Uint8Array, ciphertext: g.ciphertext as Uint8Array };
    await c.deleteKey(E, "deleted-before", 0, true);
    await cluster.waitConverged();
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });

  let underLoad: string;
  let backupIndex = 0;

  step("a backup of a follower under a read, crypto and write load fails no read or crypto call", async () => {
    const clients = [0, 1, 2].map((i) => cluster.client(i));
    const load = startLoad(clients, E, KEYS, cluster.client(0));
    await new Promise((r) => setTimeout(r, 300)); // the load is running before the backup starts
    underLoad = path.join(work, "under-load.backup");
    const r = await runKms(["backup", "--gzip", underLoad, "--json"], cluster.env(1), { timeoutMs: 60_000 });
    const report = await load.stop();
    console.log(`load during the backup: ${report.reads} reads, ${report.crypto} crypto calls, ${report.writes} writes; ` +
      `failed: ${report.failedReads.length} reads, ${report.failedCrypto.length} crypto, ${report.failedWrites.length} writes`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "no progress bar when standard error is not a terminal");
    backupIndex = JSON.parse(r.stdout).index;
    assert.deepEqual(report.failedReads, []);
    assert.deepEqual(report.failedCrypto, []);
    assert.ok(report.crypto > 0 && report.writes > 0, "the load ran");
    assert.equal((await import("node:fs")).statSync(underLoad).mode & 0o777, 0o600);
  });

  step("restored on a fresh node: a new single-node cluster with the backup's state hash; ciphertexts made before decrypt with the source's CA and admin key", async () => {
    const target = restored = await fresh();
    const r = await restore(underLoad, target);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.index, backupIndex);
    assert.notEqual(out.cluster, out.source_cluster, "a new cluster id: it never mixes with the source");
    // The source's credentials: its CA file and admin API key work on the restored node.
    assert.equal(readFileSync(path.join(target.dir, CA_FILE), "utf8"), readFileSync(path.join(cluster.nodes[0].dir, CA_FILE), "utf8"));
    assert.equal(adminApiKeyOf(target.dir, SoftHsm.parse(cluster.hsmKey)), cluster.apiKey);
    const ca = readFileSync(path.join(cluster.nodes[0].dir, CA_FILE), "utf8");
    const h = await dbHash(target.port, ca, cluster.apiKey);
    assert.equal(h.state_hash, out.state_hash, "the restored node's state hash is the backup's (the source's at that index)");
    const c = new KmsClient({ servers: [target.address], apiKey: cluster.apiKey, ca });
    try {
      for (const x of ciphertexts) assert.deepEqual((await c.decrypt(E, x.key, x.ciphertext)).plaintext, x.plaintext, x.key);
      // It takes writes as a cluster of its own, once it has elected itself.
      await until(async () => (await rawRequest({ port: target.port, ca, apiKey: cluster.apiKey }, { path: "/v1/health/ready?write" })).status === 200 || "not writable yet", "the restored node to lead");
      await c.createKey(E, "after-restore");
    } finally {
      c.close();
    }
  });

  step("the restored node keeps it all: killed and restarted it has the same state hash, undeletes a key deleted before the backup, and grows with kms add", async () => {
    const ca = readFileSync(path.join(restored.dir, CA_FILE), "utf8");
    const before = await dbHash(restored.port, ca, cluster.apiKey);
    assert.equal(await restored.stop("SIGKILL"), 128);
    const again = await startServer({ dir: restored.dir, hsmKey: cluster.hsmKey, addr: restored.address });
    assert.equal(again.apiKey, cluster.apiKey, "the source's admin API key, unsealed from the restored directory");
    // The index moves on (the restarted node's new term opens with an entry of its own); the state does not.
    assert.equal((await dbHash(again.port, ca, cluster.apiKey)).state_hash, before.state_hash, "what the restore installed is on disk, not only in memory");
    const c = new KmsClient({ servers: [again.address], apiKey: cluster.apiKey, ca });
    try {
      await until(async () => (await rawRequest({ port: again.port, ca, apiKey: cluster.apiKey }, { path: "/v1/health/ready?write" })).status === 200 || "not writable yet", "the restarted node to lead");
      await assert.rejects(c.decrypt(E, deletedCt.key, deletedCt.ciphertext), /key does not exist/);
      await c.undeleteKey(E, deletedCt.key);
      assert.deepEqual((await c.decrypt(E, deletedCt.key, deletedCt.ciphertext)).plaintext, deletedCt.plaintext, "the deleted key came back from the backup");
      // A fresh node with the same HSM key joins the restored cluster and receives the whole state.
      const joiner = await fresh();
      const r = await runKms(["add", joiner.address], { MINIO_KMS_SERVER: again.address, MINIO_KMS_API_KEY: cluster.apiKey, KMS_CA: again.caFile }, { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const want = await dbHash(again.port, ca, cluster.apiKey);
      await until(async () => {
        const got = await dbHash(joiner.port, ca, cluster.apiKey).catch((e: Error) => ({ state_hash: e.message.slice(0, 80) }));
        return got.state_hash === want.state_hash || `joiner: ${got.state_hash}`;
      }, "the joined node to hold the restored state", 30_000);
      const j = new KmsClient({ servers: [joiner.address], apiKey: cluster.apiKey, ca });
      try {
        for (const x of [...ciphertexts, deletedCt]) assert.deepEqual((await j.decrypt(E, x.key, x.ciphertext)).plaintext, x.plaintext, x.key);
      } finally {
        j.close();
      }
    } finally {
      c.close();
    }
  });

  let quiet: string;
  step("a quiescent backup restores to exactly the source's state, as a client sees it and by state hash", async () => {
    await cluster.waitConverged();
    quiet = path.join(work, "quiet.backup");
    const r = await runKms(["backup", quiet, "--json"], cluster.env(0), { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const source = await dbHash(cluster.nodes[0].port, cluster.nodes[0].ca, cluster.apiKey);
    const target = await fresh();
    const rr = await restore(quiet, target);
    assert.equal(rr.code, 0, rr.stderr);
    assert.equal(JSON.parse(rr.stdout).state_hash, source.state_hash);
    const ca = readFileSync(path.join(target.dir, CA_FILE), "utf8");
    assert.equal((await dbHash(target.port, ca, cluster.apiKey)).state_hash, source.state_hash);
    // An outside view too: the keys and their latest versions, listed through the API.
    const c = new KmsClient({ servers: [target.address], apiKey: cluster.apiKey, ca });
    try {
      const keys = ((await c.listKeys(E)).keys as Array<{ name: string; version: number }>).map((k) => `${k.name}:${k.version}`).sort();
      const srcKeys = ((await cluster.client(0).listKeys(E)).keys as Array<{ name: string; version: number }>).map((k) => `${k.name}:${k.version}`).sort();
      assert.deepEqual(keys, srcKeys);
      for (const k of KEYS) assert.deepEqual((await c.generate(E, k)).version, (await cluster.client(0).keyStatus(E, k)).version);
    } finally {
      c.close();
    }
  });

  step("refused with a clear message, the target unchanged: another HSM key, truncated, edited header, edited chunk, newer format, a target not fresh", async () => {
    const good = readFileSync(quiet);
    const headerLen = good.readUInt32BE(8);
    const bad = (name: string, bytes: Uint8Array) => {
      const f = path.join(work, name);
      writeFileSync(f, bytes);
      return f;
    };
    const flip = (at: number) => {
      const b = Buffer.from(good);
      b[at] ^= 0x01;
      return b;
    };
    const newer = (() => {
      const json = JSON.parse(good.subarray(12, 12 + headerLen).toString());
      const text = Buffer.from(JSON.stringify({ ...json, format: 2 }));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(text.length);
      const head = Buffer.concat([good.subarray(0, 8), len, text]);
      return Buffer.concat([head, createHash("sha256").update(head).digest(), good.subarray(12 + headerLen + 32)]);
    })();
    const cases: Array<[string, string, RegExp]> = [
      ["truncated", bad("truncated.backup", good.subarray(0, good.length - 100)), /truncated/],
      ["cut after the header", bad("header-only.backup", good.subarray(0, 12 + headerLen + 32)), /truncated: it ends before its last chunk/],
      ["edited header", bad("header.backup", flip(20)), /header does not match its checksum/],
      ["edited chunk", bad("chunk.backup", flip(good.length - 40)), /chunk \d+ does not authenticate/],
      ["trailing bytes", bad("trailing.backup", Buffer.concat([good, Buffer.from("x")])), /data after its last chunk/],
      ["newer format", bad("newer.backup", newer), /format 2, newer than this kms reads \(1\)/],
      ["not a backup", bad("text.backup", Buffer.from("hello world, not a backup at all")), /not a kms backup/],
    ];
    const target = await fresh();
    const other = await fresh(SoftHsm.generate());
    for (const [what, file, message] of [...cases, ["another HSM key", quiet, /sealed for other HSM keys \([0-9a-f]{16}\), not for this node's/] as [string, string, RegExp]]) {
      const t = what === "another HSM key" ? other : target;
      const before = fileHashes(t.dir);
      const r = await restore(file, t);
      assert.notEqual(r.code, 0, `${what}: ${r.stdout}`);
      assert.match(r.stderr, message, what);
      assert.match(r.stderr, /HTTP 400/, what);
      assert.deepEqual(fileHashes(t.dir), before, `${what}: the target's files are unchanged`);
      console.log(`refused (${what}): ${r.stderr.trim().split("\n")[0]}`);
    }
    // Positive control: the same target takes the good backup; then, no longer fresh, it refuses another.
    assert.equal((await restore(quiet, target)).code, 0);
    const before = fileHashes(target.dir);
    const again = await runKms(["restore", quiet, "--to", target.address], { ...target.env(), MINIO_KMS_API_KEY: cluster.apiKey, KMS_CA: path.join(target.dir, CA_FILE) });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /cannot restore onto this node: it already holds state/);
    const after = fileHashes(target.dir);
    assert.deepEqual(Object.keys(after), Object.keys(before));
    assert.equal(after["root.seal"], before["root.seal"]);
    assert.equal(after["ca.crt"], before["ca.crt"]);
  });

  step("a backup needs a SysAdmin: a stranger's key is refused 403", async () => {
    const r = await runKms(["backup", path.join(work, "nope.backup")], { ...cluster.env(0), MINIO_KMS_API_KEY: "k1:" + "A".repeat(43) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /access denied/);
  });
});
