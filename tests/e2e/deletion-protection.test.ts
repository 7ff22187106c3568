/**
 * Deletion protection (docs/recovery.md): deleting a key or an enclave hides
 * it at once on every node — the native and KES protocols answer exactly as
 * for a key that never existed — but keeps it, sealed, for the recovery
 * window; `kms undelete-key` / `undelete-enclave` bring it back with all its
 * versions and old ciphertexts decrypt again. Once the window has passed the
 * leader purges it with a replicated command: gone from every node's state
 * and, like a deletion with a window of 0, from every file of every node.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { KmsClient } from "../../lib/client/client.ts";
import { after, before, describe, it } from "node:test";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { type Cluster, reportingSteps, startCluster } from "../helpers/cluster.ts";
import { openedRows } from "../helpers/data-dir.ts";
import { findSecrets, rawRequest, type Secret, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer } from "../helpers/kms.ts";

const E = "default"; // the KES API's enclave
let cluster: Cluster;

/** A KES API call on node i: status and body. */
async function kes(i: number, path: string, body?: unknown) {
  const n = cluster.nodes[i];
  const r = await rawRequest({ port: n.port, ca: n.ca, apiKey: cluster.apiKey }, {
    method: body === undefined ? "GET" : "POST", path, timeoutMs: 10_000,
    ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)), headers: { "content-type": "application/json" } }),
  });
  return { status: r.status, body: r.body.toString(), type: r.headers["content-type"] };
}

/** A native call's status and message on node i. */
async function native(i: number, f: () => Promise<unknown>) {
  try {
    await f();
    return "ok";
  } catch (err) {
    return `${(err as { status?: number }).status} ${(err as Error).message}`;
  }
}

describe("deletion protection: a deleted key is hidden at once and kept for its recovery window", () => {
  const { step, failed } = reportingSteps();
  const made: Array<{ plaintext: Uint8Array; ciphertext: Uint8Array }> = [];
  before(async () => {
    cluster = await startCluster({ size: 2 }); // the default window: 7 days
    const c = cluster.client(0);
    await c.createEnclave(E);
    await c.createKey(E, "k");
    await c.createKey(E, "k", "", true);
    await c.createKey(E, "other");
    for (const version of [1, 2]) {
      const g = await c.generate(E, "k", new Uint8Array(), 0, version);
      made.push({ plaintext: g.plaintext as Uint8Array, ciphertext: g.ciphertext as Uint8Array });
    }
    await cluster.waitConverged();
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });

  step("rm-key: every node answers as for a key that never existed, native and KES alike", async () => {
    const r = await cluster.cli(["rm-key", "--enclave", E, "--all", "--force", "k"], 1);
    assert.equal(r.code, 0, r.stderr);
    for (const i of [0, 1]) {
      const c = cluster.client(i);
      for (const [what, deleted, never] of [
        ["status", () => c.keyStatus(E, "k"), () => c.keyStatus(E, "never")],
        ["generate", () => c.generate(E, "k"), () => c.generate(E, "never")],
        ["decrypt", () => c.decrypt(E, "k", made[0].ciphertext), () => c.decrypt(E, "never", made[0].ciphertext)],
      ] as const) {
        assert.equal(await native(i, deleted), (await native(i, never)).replace("never", "k"), `node ${i} ${what}`);
        assert.match(await native(i, deleted), /^404 key does not exist$/);
      }
      const keys = ((await c.listKeys(E)).keys as Array<{ name: string }>).map((k) => k.name);
      assert.deepEqual(keys, ["other"], `node ${i} lists it no more`);
      for (const [path, body] of [["/v1/key/describe/", undefined], ["/v1/key/generate/", { context: "" }], ["/v1/key/encrypt/", { plaintext: "aGk=" }]] as const) {
        assert.deepEqual(await kes(i, path + "k", body), await kes(i, path + "never", body), `node ${i} KES ${path}`);
        assert.equal((await kes(i, path + "k", body)).status, 404);
      }
    }
  });

  step("ls-deleted shows it with its versions and when it is purged; undelete-key brings back every version and old ciphertexts decrypt", async () => {
    const ls = JSON.parse((await cluster.cli(["ls-deleted", "--json"], 0)).stdout) as Array<{ kind: string; name: string; versions: number[]; purge_at: string }>;
    assert.equal(ls.length, 1);
    assert.deepEqual([ls[0].kind, ls[0].name, ls[0].versions], ["key", "k", [1, 2]]);
    const left = Date.parse(ls[0].purge_at) - Date.now();
    assert.ok(left > 6.9 * 24 * 3600_000 && left <= 7 * 24 * 3600_000, `purged in 7 days (${left} ms)`);
    const r = await cluster.cli(["undelete-key", "--enclave", E, "k"], 0);
    assert.equal(r.code, 0, r.stderr);
    for (const i of [0, 1]) {
      const c = cluster.client(i);
      for (const m of made) assert.deepEqual((await c.decrypt(E, "k", m.ciphertext)).plaintext, m.plaintext, `node ${i}`);
      assert.equal((await c.keyStatus(E, "k")).version, 2);
    }
    assert.deepEqual(JSON.parse((await cluster.cli(["ls-deleted", "--json"], 1)).stdout), []);
    await cluster.assertSameState();
  });

  step("a deleted enclave comes back with its keys; a name created again blocks an undelete with a clear 409", async () => {
    const c = cluster.client(0);
    await c.deleteEnclave(E);
    assert.match(await native(1, () => cluster.client(1).keyStatus(E, "k")), /^404 enclave does not exist$/);
    assert.equal((await cluster.cli(["undelete-enclave", E], 1)).code, 0);
    assert.deepEqual((await cluster.client(1).decrypt(E, "k", made[1].ciphertext)).plaintext, made[1].plaintext);
    await c.deleteKey(E, "other", 0, true);
    await c.createKey(E, "other");
    const r = await cluster.cli(["undelete-key", "--enclave", E, "other"], 0);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /was created again and has version 1 too/);
    assert.match(await native(0, () => c.undeleteKey(E, "never")), /^404 no deleted key of that name/);
  });
});

describe("deletion protection: purged after the window, from every node's state and files", () => {
  const hsmKey = SoftHsm.generate();
  const material = randomBytes(32);
  let nodes: KmsServer[];
  before(async () => {
    const extraArgs = ["--key-recovery-window", "2s"];
    nodes = [await startServer({ hsmKey, extraArgs }), await startServer({ hsmKey, extraArgs })];
    await nodes[0].client().addNode(nodes[1].address);
  });
  after(cleanup);

  it("kept (sealed) until the window passes, then purged by the leader on every node and erased from every file", async () => {
    const c = nodes[0].client();
    await c.createEnclave("e");
    await c.importKey("e", "doomed", material);
    const holds = (plain: Uint8Array) => Buffer.from(plain).includes(material) || Buffer.from(plain).includes(material.toString("base64"));
    const secrets: Secret[] = [{ label: "key bytes", bytes: material }];
    for (const [i, n] of nodes.entries()) {
      for (const r of (await openedRows(n.dir, hsmKey)).filter((r) => holds(r.plain))) secrets.push({ label: `node ${i}'s sealed ${r.key}`, bytes: r.value });
    }
    // Through node 1, which joined node 0's cluster: its admin key and CA are node 0's now.
    const r = await runKms(["rm-key", "--enclave", "e", "--all", "--force", "doomed"], { ...nodes[1].env(), MINIO_KMS_API_KEY: nodes[0].apiKey });
    assert.equal(r.code, 0, r.stderr);
    // Kept: the deleted item holds it (a d/ record) on both nodes.
    for (const n of nodes) assert.ok((await openedRows(n.dir, hsmKey)).some((x) => x.key.startsWith("d/") && holds(x.plain)), "kept, sealed");
    for (const [i, n] of nodes.entries()) {
      const client = new KmsClient({ servers: [n.address], apiKey: nodes[0].apiKey, ca: readFileSync(n.caFile, "utf8") });
      await waitUntil(async () => (((await client.listDeleted()).items ?? []) as unknown[]).length === 0, `node ${i} to purge it`, 20_000);
      client.close();
      await waitUntil(async () => !(await openedRows(n.dir, hsmKey)).some((x) => holds(x.plain)) && findSecrets(n.dir, secrets).length === 0,
        `node ${i}'s files to hold no trace of the purged key`, 20_000);
    }
    assert.match(await (async () => {
      try {
        await c.undeleteKey("e", "doomed");
        return "ok";
      } catch (err) {
        return (err as Error).message;
      }
    })(), /no deleted key of that name/);
  });
});
