/**
 * Serving threads (issue 12 goal 1, `--threads`): a node with two threads,
 * many keep-alive connections (the kernel spreads them over both threads'
 * listeners), and a write acknowledged through one connection is visible at
 * once through every other, served by the thread that holds it. Routes the
 * threads do not serve themselves (metrics, admin commands, KES) work from
 * any connection; their requests reach the audit trail and the metrics;
 * SIGTERM stops every thread; a thread that fails stops the node.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { framesOf, postNative, rawRequest, type RawReply, stopWithin, waitForExit, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";

const CONNECTIONS = 16;
const ROUNDS = 15;

const generate = (name: string) => framesOf([{ id: 207, request: "GenerateKeyRequest", message: { name } }]);

/** The thread that served a reply: the request id's prefix is per thread (each has its own boot prefix). */
const threadOf = (r: RawReply) => String(r.headers["x-request-id"]).split("-")[0];

describe("serving threads: --threads 2", () => {
  let server: KmsServer;
  let audit: string;
  /** One keep-alive connection each. */
  const agents = Array.from({ length: CONNECTIONS }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  /** The thread holding each connection (from a read it served itself). */
  const owner: string[] = [];
  let served = 0;
  /** One client certificate for all requests: a connection is reused only for the same one. */
  let credentials: { cert: string; key: string };
  const native = (enclave: string, body: Uint8Array, agent: https.Agent) => postNative(server, enclave, body, { agent, credentials });

  before(async () => {
    audit = path.join(tempDir(), "audit.jsonl");
    server = await startServer({ extraArgs: ["--threads", "2", "--audit", audit, "--log-format", "text"] });
    credentials = clientCredentials(parseApiKey(server.apiKey));
    const admin = server.client();
    await admin.createEnclave("e");
    await admin.createKey("e", "k0");
    for (const agent of agents) {
      const r = await native("e", generate("k0"), agent);
      assert.equal(r.status, 200, r.body.toString());
      owner.push(threadOf(r));
      served++;
    }
  });
  after(async () => {
    for (const a of agents) a.destroy();
    if (server) await stopWithin(server);
    await cleanup();
  });

  it("the thread's log records are written by the main thread's logger, in its format", () => {
    // --log-format text: a thread writing on its own would write JSON.
    assert.match(server.output(), /kms: serving thread 1 listening thread=1\n/);
    assert.doesNotMatch(server.output(), /"msg":"serving thread/);
  });

  it("the kernel spreads the connections over both threads", () => {
    assert.equal(new Set(owner).size, 2, `every connection went to one thread: ${owner.join(" ")}`);
  });

  it("a write acknowledged through one connection is visible at once through every other, on every thread", { timeout: 120_000 }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `k${round + 1}`;
      const w = round % CONNECTIONS;
      const created = await native("e", framesOf([{ id: 201, request: "CreateKeyRequest", message: { name } }]), agents[w]);
      assert.equal(created.status, 200, created.body.toString());
      const others = agents.filter((_, i) => i !== w);
      const reads = await Promise.all(others.map((agent) => native("e", generate(name), agent)));
      reads.forEach((r, i) => assert.equal(r.status, 200, `round ${round}, connection ${i}: ${r.body.toString()}`));
      // Served by the thread holding each connection, from its own replica (not handed to the main thread).
      assert.deepEqual(reads.map(threadOf), owner.filter((_, i) => i !== w), `round ${round}: a read was not served by its connection's thread`);
      served += reads.length;

      const deleted = await native("e", framesOf([{ id: 202, request: "DeleteKeyRequest", message: { name, all_versions: true } }]), agents[(w + 1) % CONNECTIONS]);
      assert.equal(deleted.status, 200, deleted.body.toString());
      const gone = await Promise.all(agents.filter((_, i) => i !== (w + 1) % CONNECTIONS).map((agent) => native("e", generate(name), agent)));
      gone.forEach((r, i) => assert.equal(r.status, 404, `round ${round}, connection ${i} still sees the deleted key: ${r.status} ${r.body.toString()}`));
    }
  });

  it("what a thread does not serve itself works from every connection: metrics, admin commands, KES", async () => {
    for (const agent of agents) {
      const m = await rawRequest(server, { path: "/v1/health/metrics", agent, credentials });
      assert.equal(m.status, 200, m.body.toString());
      const list = await native("", framesOf([{ id: 104, request: "ListRequest", message: {} }]), agent);
      assert.equal(list.status, 200, list.body.toString());
      const kes = await rawRequest(server, { path: "/v1/status", agent, credentials });
      assert.equal(kes.status, 200, kes.body.toString());
    }
  });

  it("a chunked request body handed to the main thread arrives whole, whichever thread took the connection", async () => {
    const list = framesOf([{ id: 104, request: "ListRequest", message: {} }]);
    for (const agent of agents) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request({
          host: "127.0.0.1", port: server.port, method: "POST", path: "/v1/kms", agent, ca: server.ca, ...credentials,
          headers: { "content-type": "application/octet-stream", accept: "application/*" }, // no length: chunked
        }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.write(list.subarray(0, 3));
        req.end(list.subarray(3));
      });
      assert.equal(status, 200);
    }
  });

  it("the node's open connections count every thread's", async () => {
    const open = async () => JSON.parse((await rawRequest(server, { path: "/v1/debug/stat" })).body.toString()).connections as number;
    await waitUntil(async () => (await open()) >= CONNECTIONS, `${CONNECTIONS} open connections in /v1/debug/stat`);
  });

  it("requests served by either thread reach the metrics and the audit trail", async () => {
    const generated = () => {
      const lines = readFileSync(audit, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
      return lines.filter((r) => r.command === "KEY:GENERATE" && r.status === 200).length;
    };
    await waitUntil(() => generated() >= served, `${served} GENERATE audit records`);
    const m = await rawRequest(server, { path: "/v1/health/metrics" });
    const line = m.body.toString().split("\n").find((l) => l.startsWith("kms_commands_total") && l.includes('command="KEY:GENERATE"'));
    assert.ok(line, "no KEY:GENERATE counter");
    assert.ok(Number(line!.split(" ").pop()) >= served, line);
  });

  it("SIGTERM stops every thread within the shutdown deadline, connections still open", async () => {
    const code = await stopWithin(server, "SIGTERM", 10_000);
    assert.equal(code, 0, server.output());
  });
});

describe("a serving thread that fails", () => {
  after(cleanup);

  it("stops the whole node, saying so (no half-serving node)", async () => {
    const server = await startServer({ extraArgs: ["--threads", "2"], env: { KMS_TEST_THREAD_THROWS: "1" } });
    const exit = await waitForExit(server, 10_000);
    assert.notEqual(exit, "timeout", "the node kept serving with a failed thread");
    assert.equal((exit as { code: number }).code, 1);
    assert.match(server.output(), /serving thread failed.*test made this serving thread throw/);
  });
});

describe("--threads", () => {
  after(cleanup);

  it("takes a whole number from 1 to 64, refused before the data directory is touched; --help describes it", async () => {
    const dir = path.join(tempDir(), "data");
    for (const bad of ["0", "65", "1.5", "two", ""]) {
      const r = await runKms(["server", "--threads", bad, dir], { MINIO_KMS_HSM_KEY: SoftHsm.generate() });
      assert.equal(r.code, 2, `--threads ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--threads .*: use a whole number from 1 to 64/);
    }
    assert.equal(existsSync(dir), false, "the data directory was made");
    for (const cmd of ["server", "dev"]) assert.match((await runKms([cmd, "--help"])).stdout, /--threads N/);
  });
});

describe("serving threads in a three-node cluster (--threads 2 on every node)", () => {
  let cluster: Cluster;
  after(async () => {
    await cluster?.close();
    await cleanup();
  });

  it("after the joins every thread shows the cluster's certificate, and a write acknowledged through one node is read at once through every connection of the others", { timeout: 180_000 }, async () => {
    cluster = await startCluster({ size: 3, extraArgs: ["--threads", "2"] });
    const admin = cluster.client(0);
    await admin.createEnclave("e");
    await admin.createKey("e", "k0");
    const credentials = clientCredentials(parseApiKey(cluster.apiKey));
    // Connections to the two other nodes; each is held by one of its node's threads.
    const conns = [1, 2].flatMap((i) => Array.from({ length: 12 }, () => ({ node: cluster.nodes[i], agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) })));
    const call = (c: (typeof conns)[number], body: Uint8Array) =>
      postNative({ port: c.node.port, ca: c.node.ca, apiKey: cluster.apiKey }, "e", body, { agent: c.agent, credentials });
    try {
      // The main thread of each node names itself in what it answers for a thread (a cluster command is never local).
      const mainOf = new Map<number, string>();
      for (const c of conns) {
        const r = await call(c, framesOf([{ id: 104, request: "ListRequest", message: {} }]));
        assert.equal(r.status, 200, r.body.toString());
        if (!mainOf.has(c.node.index)) mainOf.set(c.node.index, threadOf(r));
        assert.equal(threadOf(r), mainOf.get(c.node.index), "cluster commands are answered by the main thread");
      }
      // A connection's thread answers a read itself once its replica is current (a loaded follower's may lag: ask again).
      const owner = await Promise.all(conns.map(async (c) => {
        let by = "";
        for (let attempt = 0; attempt < 10 && (by === "" || by === mainOf.get(c.node.index)); attempt++) {
          const r = await call(c, generate("k0"));
          assert.equal(r.status, 200, r.body.toString());
          by = threadOf(r);
        }
        return by;
      }));
      for (const i of [1, 2]) {
        assert.equal(new Set(owner.filter((_, j) => conns[j].node.index === i)).size, 2, `node ${i}: every connection went to one thread`);
      }
      let local = 0;
      for (let round = 0; round < 8; round++) {
        const name = `c${round}`;
        await admin.createKey("e", name);
        const reads = await Promise.all(conns.map((c) => call(c, generate(name))));
        reads.forEach((r, j) => assert.equal(r.status, 200, `round ${round}, node ${conns[j].node.index}: ${r.body.toString()}`));
        // A follower may learn that the entry committed a heartbeat later: a thread behind
        // hands the read to its main thread (which waits for it), so who answers is not asserted here.
        local += reads.filter((r, j) => threadOf(r) === owner[j]).length;
        await admin.deleteKey("e", name);
        const gone = await Promise.all(conns.map((c) => call(c, generate(name))));
        gone.forEach((r, j) => assert.equal(r.status, 404, `round ${round}, node ${conns[j].node.index} still sees the deleted key: ${r.status}`));
      }
      console.log(`threads in a cluster: ${local} of ${8 * conns.length} reads after a write served by their connection's own thread`);
    } finally {
      for (const c of conns) c.agent.destroy();
    }
  });
});

describe("a backup restored onto a node with --threads 2", () => {
  after(cleanup);

  it("every thread serves the restored state, with the source's certificate and admin key", { timeout: 120_000 }, async () => {
    const source = await startServer();
    const admin = source.client();
    await admin.createEnclave("r");
    await admin.createKey("r", "restored-key");
    const file = path.join(tempDir(), "r.backup");
    const backup = await runKms(["backup", file, "--json"], source.env(), { timeoutMs: 60_000 });
    assert.equal(backup.code, 0, backup.stderr);
    await stopWithin(source);

    const target = await startServer({ hsmKey: source.hsmKey, extraArgs: ["--threads", "2"] });
    const restored = await runKms(["restore", file, "--to", target.address, "--json"], { ...target.env(), KMS_CA: target.caFile }, { timeoutMs: 60_000 });
    assert.equal(restored.code, 0, restored.stderr);
    // The restored node is the source's cluster now: its CA and admin key.
    const node = { port: target.port, ca: readFileSync(target.caFile, "utf8"), apiKey: source.apiKey };
    const credentials = clientCredentials(parseApiKey(source.apiKey));
    const threads = new Set<string>();
    const agents = Array.from({ length: 16 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      for (const agent of agents) {
        const r = await postNative(node, "r", generate("restored-key"), { agent, credentials });
        assert.equal(r.status, 200, r.body.toString());
        threads.add(threadOf(r));
      }
    } finally {
      for (const a of agents) a.destroy();
    }
    assert.equal(threads.size, 2, "both threads served the restored key themselves");
    await stopWithin(target);
  });
});
