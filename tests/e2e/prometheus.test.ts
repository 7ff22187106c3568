/**
 * A real Prometheus scrapes a 3-node cluster over mutual TLS (issue 13): its
 * client certificate is made here with openssl, its identity may only read
 * metrics (a policy allowing SYS:METRICS), and the test reads Prometheus's
 * own HTTP API to see every target up and the per-command counters move
 * under pipelined load. promtool checks the exposition. Run twice: once with
 * one serving thread per node, once with `--threads 2` (the operations a
 * thread serves reach the node's counters; a scrape that lands on a thread's
 * connection is handed to the main thread). Bounded: scrapes every second,
 * and each run takes well under a minute.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { identityOfCertificate } from "../../lib/identity/identity.ts";
import { type Cluster, startCluster, until } from "../helpers/cluster.ts";
import { framesOf, postNative, rawRequest } from "../helpers/e2e.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { cleanup, tempDir } from "../helpers/kms.ts";
import { ensurePrometheus, type Prometheus, startPrometheus } from "../helpers/prometheus.ts";

const available = ensurePrometheus();
const FRAMES = 1000;
const REQUESTS = 3;
/** With serving threads: requests each 1,000 frames are split into, and keep-alive connections per node they go over. */
const SPREAD = 8;
const CONNECTIONS = 16;

for (const threads of [1, 2]) {
  const of = threads > 1 ? ` of ${threads} serving threads each` : "";
  describe(`Prometheus scrapes a 3-node cluster${of} over mTLS`, { skip: available === true ? false : `Prometheus is not available: ${available}` }, () => scrapes(threads));
}

function scrapes(threads: number): void {
  let cluster: Cluster;
  let prom: Prometheus | undefined;
  let creds: { cert: string; key: string; certFile: string; keyFile: string; identity: string };
  /** Per node: keep-alive connections (one each), and the admin's client certificate they present. */
  const agents = [0, 1, 2].map(() => Array.from({ length: CONNECTIONS }, () => new https.Agent({ keepAlive: true, maxSockets: 1 })));
  let adminCreds: { cert: string; key: string }[] = [];

  before(async () => {
    cluster = await startCluster({ size: 3, extraArgs: threads > 1 ? ["--threads", String(threads)] : [] });
    const dir = tempDir("kms-prom-cert-");
    const keyFile = path.join(dir, "prometheus.key"), certFile = path.join(dir, "prometheus.crt");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=prometheus"], { stdio: "ignore" });
    const cert = readFileSync(certFile, "utf8");
    creds = { cert, key: readFileSync(keyFile, "utf8"), certFile, keyFile, identity: identityOfCertificate(new Uint8Array(new X509Certificate(cert).raw)) };
    // The documented privilege: a policy allowing SYS:METRICS, and nothing else.
    const admin = cluster.client(0);
    await admin.createEnclave("ops");
    await admin.createPolicy("ops", "metrics-reader", { "SYS:METRICS": ["*"] });
    await admin.createIdentity("ops", creds.identity);
    await admin.assignPolicy("ops", "metrics-reader", creds.identity);
    await admin.createEnclave("tenant-x");
    await admin.createKey("tenant-x", "key-x");
    adminCreds = cluster.nodes.map((n) => clientCredentials(parseApiKey(cluster.apiKeyOf(n.index))));
  });
  after(async () => {
    for (const a of agents.flat()) a.destroy();
    await prom?.stop();
    await cluster?.close();
    await cleanup();
  });

  it("the certificate reads metrics and nothing else; others may not read them", async () => {
    const n = cluster.nodes[0];
    const server = { port: n.port, ca: n.ca, apiKey: cluster.apiKey };
    const ok = await rawRequest(server, { path: "/v1/health/metrics", credentials: creds });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    // KES's /v1/metrics takes the same privilege, though the identity is not in the KES API's enclave.
    const kes = await rawRequest(server, { path: "/v1/metrics", credentials: creds });
    assert.equal(kes.status, 200, kes.body.toString());
    assert.match(kes.body.toString(), /^kes_http_request_success \d+$/m);
    const kesLog = await rawRequest(server, { path: "/v1/log/error", credentials: creds });
    assert.equal(kesLog.status, 403, "SYS:METRICS does not give the log");
    const stranger = await rawRequest(server, { path: "/v1/health/metrics", apiKey: null });
    assert.equal(stranger.status, 403);
    const generate = await rawRequest(server, { path: "/v1/kms/tenant-x", method: "POST", body: new Uint8Array(), credentials: creds });
    assert.equal(generate.status, 403, "the metrics identity cannot run commands");
  });

  it("every target is up, over mTLS with the test's certificate", { timeout: 60_000 }, async () => {
    const targets = cluster.nodes.map((n) => `'${n.address}'`).join(", ");
    prom = await startPrometheus(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kms
    scheme: https
    metrics_path: /v1/health/metrics
    tls_config:
      ca_file: ${cluster.caFile()}
      cert_file: ${creds.certFile}
      key_file: ${creds.keyFile}
    static_configs:
      - targets: [${targets}]
`);
    await until(async () => {
      const { activeTargets } = await prom!.api("/api/v1/targets");
      const up = activeTargets.filter((t: { health: string }) => t.health === "up").length;
      return up === 3 || `${up} of ${activeTargets.length} up: ${activeTargets.map((t: { lastError: string }) => t.lastError).filter(Boolean).join("; ")}`;
    }, "all 3 targets up", 30_000, 250);
    const leaders = await prom!.query('sum(kms_cluster_role{role="leader"})');
    assert.equal(leaders[0]?.value[1], "1", "one leader among the three");
  });

  it("the per-command counters move under pipelined load, 1,000 per request", { timeout: 60_000 }, async () => {
    const before = await prom!.query('kms_commands_total{command="KEY:GENERATE",outcome="ok"}');
    assert.deepEqual(before, [], "no GENERATE yet");
    const frames = Array.from({ length: FRAMES }, () => ({
      id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse",
      message: { name: "key-x", version: 0, associated_data: new Uint8Array(), length: 32 },
    }));
    // With serving threads: each 1,000 frames leave as SPREAD requests over keep-alive connections the kernel
    // spreads over both threads' listeners, and every node must show both threads serving (the request id's prefix).
    const served = cluster.nodes.map(() => new Set<string>());
    const body = framesOf(frames.slice(0, FRAMES / SPREAD));
    let turn = 0;
    const send = async (requests: number) => {
      for (let i = 0; i < 3; i++) {
        if (threads === 1) {
          const c = cluster.client(i);
          for (let r = 0; r < requests; r++) assert.equal((await c.batch("tenant-x", frames)).length, FRAMES);
          continue;
        }
        const n = cluster.nodes[i];
        const server = { port: n.port, ca: n.ca, apiKey: cluster.apiKeyOf(i) };
        for (let r = 0; r < requests * SPREAD; r++) {
          const reply = await postNative(server, "tenant-x", body, { agent: agents[i][turn++ % CONNECTIONS], credentials: adminCreds[i] });
          assert.equal(reply.status, 200, reply.body.toString());
          served[i].add(String(reply.headers["x-request-id"]).split("-")[0]);
        }
      }
    };
    /** Waits until Prometheus has scraped `n` GENERATE operations from each node. */
    const seen = (n: number) => until(async () => {
      const v = await prom!.query('sum by (instance) (kms_commands_total{command="KEY:GENERATE",id="207",outcome="ok"})');
      const counts = v.map((s) => Number(s.value[1]));
      return (counts.length === 3 && counts.every((c) => c === n)) || `per instance: ${JSON.stringify(v.map((s) => [s.metric.instance, s.value[1]]))}`;
    }, `Prometheus to see ${n} GENERATE operations on each node`, 30_000, 250);
    // In two steps, so Prometheus holds samples before and after the second: the counters move between scrapes.
    await send(1);
    await seen(FRAMES);
    await send(REQUESTS - 1);
    await seen(FRAMES * REQUESTS);
    if (threads > 1) served.forEach((ids, i) => assert.equal(ids.size, threads, `node ${i}: every thread served a share (${[...ids].join(" ")})`));
    const rate = await prom!.query('sum(increase(kms_commands_total{command="KEY:GENERATE"}[1m]))');
    assert.ok(Number(rate[0]?.value[1]) >= 3 * FRAMES * (REQUESTS - 1), `the counters moved within the last minute: ${JSON.stringify(rate)}`);
  });

  it("promtool accepts the exposition; it names no key, enclave or identity", async () => {
    const n = cluster.nodes[1];
    const res = await rawRequest({ port: n.port, ca: n.ca, apiKey: cluster.apiKey }, { path: "/v1/health/metrics", credentials: creds });
    const text = res.body.toString();
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    for (const name of ["tenant-x", "key-x", '"ops"', "metrics-reader", creds.identity.slice(3), cluster.apiKey.slice(3)]) {
      assert.ok(!text.includes(name), `metrics do not name ${name.slice(0, 8)}…`);
    }
    assert.match(text, /^kms_state_objects\{kind="keys"\} 1$/m, "counts only");
  });
}
