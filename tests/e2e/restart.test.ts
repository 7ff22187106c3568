/**
 * `kms restart` (issue 13): the whole cluster restarts one node at a time
 * while a client (configured with every node, as MinIO's is) keeps reading,
 * and not one read fails; every node runs a new process afterwards (same
 * PID: it re-executes itself), the data intact. `kms restart --self`
 * restarts one node; a non-admin may not restart anything.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newApiKey } from "../../lib/identity/apikey.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import { rawRequest } from "../helpers/e2e.ts";
import { cleanup } from "../helpers/kms.ts";

let cluster: Cluster;

/** Each node's start time, as /v1/debug/stat reports it. */
async function startedAt(): Promise<string[]> {
  return Promise.all(cluster.nodes.map(async (n, i) => {
    const r = await rawRequest({ port: n.port, ca: n.ca, apiKey: cluster.apiKeyOf(i) }, { path: "/v1/debug/stat" });
    assert.equal(r.status, 200, r.body.toString());
    return JSON.parse(r.body.toString()).started_at as string;
  }));
}

describe("kms restart: one node at a time, reads never stop", () => {
  before(async () => {
    cluster = await startCluster({ size: 3 });
    const admin = cluster.client(0);
    await admin.createEnclave("r");
    await admin.createKey("r", "k");
  });
  after(async () => {
    await cluster?.close();
    await cleanup();
  });

  it("only a SysAdmin may restart", async () => {
    const n = cluster.nodes[0];
    const r = await rawRequest({ port: n.port, ca: n.ca, apiKey: newApiKey() }, { method: "POST", path: "/v1/debug/restart?self", body: new Uint8Array() });
    assert.equal(r.status, 403);
  });

  it("the whole cluster restarts while reads go on without a single failure", { timeout: 120_000 }, async () => {
    const before = await startedAt();
    const pids = cluster.nodes.map((n) => n.server!.process.pid);
    const reader = cluster.client([0, 1, 2], { timeoutMs: 5_000 });
    let reads = 0;
    const failures: string[] = [];
    let stop = false;
    const reading = (async () => {
      while (!stop) {
        try {
          await reader.generate("r", "k");
          reads++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const r = await cluster.cli(["restart"], 0, 120_000);
    stop = true;
    await reading;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Restarted node \d \(\S+\) in [\d.]+ s$/m);
    assert.match(r.stdout, /^Restarted node 0 \(\S+\) last; 3 nodes in [\d.]+ s$/m);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${reads + failures.length} reads failed`);
    assert.ok(reads > 10, `${reads} reads`);
    const after = await startedAt();
    after.forEach((t, i) => assert.notEqual(t, before[i], `node ${i} runs a new process`));
    assert.deepEqual(cluster.nodes.map((n) => n.server!.process.pid), pids, "each node re-executed itself: the same PID");
    assert.equal((await cluster.client(1).keyStatus("r", "k")).name, "k", "the data is intact");
    await cluster.waitConverged();
  });

  it("--self restarts just the node asked", { timeout: 60_000 }, async () => {
    const before = await startedAt();
    const r = await cluster.cli(["restart", "--self", "--json"], 2, 60_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).restarted.length, 1);
    const after = await startedAt();
    assert.deepEqual([after[0] === before[0], after[1] === before[1], after[2] === before[2]], [true, true, false]);
  });
});
