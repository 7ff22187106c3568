/**
 * A server serves POST /v1/kms[/enclave] through its raw route (no web
 * Request per call). That route must be watched exactly as the app's hono
 * route is: the same metrics series, the same audit record, the same log
 * line and the same reply, for good requests and bad ones (oversized,
 * truncated, chunked past the limit, a body that never finishes). Two real
 * TLS listeners over one node, one without the raw route and one with it,
 * each with its own metrics and audit hub, take the same requests.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditHub, type AuditEntry } from "../../audit/hub.ts";
import { clientCredentials, newApiKey, parseApiKey } from "../../identity/apikey.ts";
import { newServerCertificate } from "../../identity/x509.ts";
import { SoftHsm } from "../../hsm/soft.ts";
import { type LogRecord, log } from "../../log/logger.ts";
import { Metrics } from "../../metrics/metrics.ts";
import { type Listener, serveTls } from "../../net/serve.ts";
import { openStore } from "../../store/store.ts";
import { createApp, createRawRoute } from "../app.ts";
import type { AppDeps } from "../deps.ts";
import type { NodeOps } from "../ops.ts";
import { MAX_BODY } from "./route.ts";
import { frame, frames } from "../../../tests/support/app.ts";
import { stopTestNode, testNode } from "../../../tests/support/node.ts";

interface Side {
  readonly listener: Listener;
  readonly metrics: Metrics;
  readonly audit: AuditEntry[];
}

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends `body` (or, with `cut`, only its first `cut` bytes before closing) and gives the reply, if one came. */
function send(port: number, ca: string, creds: { key: string; cert: string }, path: string, body: Uint8Array, opts: { headers?: Record<string, string>; cut?: number; chunked?: boolean } = {}): Promise<Sent | undefined> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/octet-stream", accept: "application/*", ...opts.headers };
    if (!opts.chunked && !headers["content-length"]) headers["content-length"] = String(body.length);
    let answered = false;
    const req = https.request({ host: "127.0.0.1", port, path, method: "POST", ca, ...creds, headers, agent: false, servername: "localhost" }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", done).on("close", done);
    });
    // A server that answers before the body is sent (a 413) closes the connection: the client's write then fails.
    req.on("error", (err) => (answered ? undefined : opts.cut !== undefined ? resolve(undefined) : reject(err)));
    if (opts.cut !== undefined) {
      req.write(body.subarray(0, opts.cut), () => setImmediate(() => req.destroy()));
      return;
    }
    req.end(body);
  });
}

/** The request series of a metrics text and their values: counters and size histograms whole, durations by count only (times differ). */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split("\n")) {
    if (!/^kms_(http_request|commands|crypto_errors)/.test(l) || /_duration_seconds_(bucket|sum)/.test(l)) continue;
    const at = l.lastIndexOf(" ");
    out.set(l.slice(0, at), Number(l.slice(at + 1)));
  }
  return out;
}

/** What one request changed: each series that moved, with how much. */
function moved(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after].filter(([k, v]) => v !== (before.get(k) ?? 0)).map(([k, v]) => `${k} ${v - (before.get(k) ?? 0)}`).sort();
}

/** An audit record without what differs between any two requests (id, time, duration). */
function stable(e: AuditEntry): Partial<AuditEntry> {
  const { id: _id, time: _time, ms: _ms, ...rest } = e;
  return rest;
}

// Under Deno, node:https's client fails its own write (EPIPE, outside the request's error event) when the
// server answers a 413 before the body; the server side is the same code, run under Bun here and by deno-dev.test.ts.
const DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

test("the raw route is watched as the app's route: same reply, metrics series, audit record and log line", { skip: DENO }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "kms-observed-"));
  const admin = parseApiKey(newApiKey());
  const stranger = clientCredentials(parseApiKey(newApiKey()));
  const creds = clientCredentials(admin);
  const store = await openStore(join(dir, "data"), SoftHsm.parse(SoftHsm.generate()));
  const node = await testNode(store, { adminIdentity: admin.identity });
  const server = newServerCertificate(["127.0.0.1", "localhost"]);
  const sides: Side[] = [];
  const logged: LogRecord[] = [];
  const unsubscribe = log.subscribe((r) => logged.push(r));
  try {
    for (const raw of [false, true]) {
      const metrics = new Metrics(node.info);
      const audit: AuditEntry[] = [];
      const hub = new AuditHub();
      hub.subscribe((e) => audit.push(e));
      const ops = { metrics, audit: hub, feeds: undefined, connections: () => 0 } as unknown as NodeOps;
      const deps: AppDeps = { node, ops, console: false };
      const listener = await serveTls(createApp(deps), { ...server, hostname: "127.0.0.1", port: 0, limits: { bodyMs: 300 } }, raw ? createRawRoute(deps) : undefined);
      sides.push({ listener, metrics, audit });
    }
    const [viaApp] = sides;
    const post = (side: Side, path: string, body: Uint8Array, opts: Parameters<typeof send>[5] & { creds?: typeof creds } = {}) =>
      send(side.listener.port, server.cert, opts.creds ?? creds, path, body, opts);
    assert.equal((await post(viaApp, "/v1/kms", frames([frame(101, { name: "e1" })])))?.status, 200);
    assert.equal((await post(viaApp, "/v1/kms/e1", frames([frame(201, { name: "k1" })])))?.status, 200);
    const generate = frames([frame(207, { name: "k1", associated_data: new Uint8Array(0) })]);
    const cases: Array<[string, string, Uint8Array, Parameters<typeof post>[3]]> = [
      ["GENERATE", "/v1/kms/e1", generate, {}],
      ["GENERATE, trailing slash", "/v1/kms/e1/", generate, {}],
      ["pipelined", "/v1/kms/e1", frames([frame(207, { name: "k1" }), frame(204, { name: "k1" })]), {}],
      ["a missing key", "/v1/kms/e1", frames([frame(204, { name: "nope" })]), {}],
      ["a stranger", "/v1/kms/e1", generate, { creds: stranger }],
      ["a stranger asking for JSON", "/v1/kms/e1", generate, { creds: stranger, headers: { accept: "application/json" } }],
      ["a truncated frame", "/v1/kms/e1", new Uint8Array([0, 207, 0]), {}],
      ["a wrong content type", "/v1/kms/e1", generate, { headers: { "content-type": "text/plain" } }],
      ["a chunked body", "/v1/kms/e1", generate, { chunked: true }],
      ["a declared length over the limit", "/v1/kms/e1", new Uint8Array(0), { headers: { "content-length": String(MAX_BODY + 1) } }],
      ["a chunked body over the limit", "/v1/kms/e1", new Uint8Array(MAX_BODY + 1), { chunked: true }],
      ["a body cut short", "/v1/kms/e1", new Uint8Array(64), { headers: { "content-length": "64" }, cut: 10 }],
      ["a body that never finishes", "/v1/kms/e1", new Uint8Array(64), { headers: { "content-length": "64" }, cut: 10, slow: true } as never],
    ];
    for (const [name, path, body, opts] of cases) {
      const seen = [];
      for (const side of sides) {
        const metricsBefore = series(await side.metrics.text());
        const auditBefore = side.audit.length;
        const logBefore = logged.length;
        const slow = (opts as { slow?: boolean }).slow;
        // A slow client keeps the connection open until the server's body deadline cuts it.
        const reply = slow
          ? await new Promise<Sent | undefined>((resolve) => {
            const req = https.request({ host: "127.0.0.1", port: side.listener.port, path, method: "POST", ca: server.cert, ...creds, agent: false, servername: "localhost", headers: { "content-length": "64" } });
            req.on("error", () => resolve(undefined)).on("response", (res) => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.alloc(0) }));
            req.write(body.subarray(0, 10));
          })
          : await post(side, path, body, opts);
        // The observation is made as the reply is written: wait for it (a cut request's has no reply to wait on).
        const deadline = Date.now() + 10_000;
        while (side.audit.length === auditBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        const metricsAfter = series(await side.metrics.text());
        const requestId = reply?.headers["x-request-id"];
        const audit = side.audit.slice(auditBefore);
        assert.equal(audit.length, 1, `${name}: one audit record`);
        if (reply) assert.equal(requestId, audit[0].id, `${name}: the reply names the audit record's id`);
        seen.push({
          status: reply?.status, type: reply?.headers["content-type"], length: reply?.headers["content-length"],
          // 200s carry fresh random keys; errors must match byte for byte.
          body: reply && reply.status !== 200 ? reply.body.toString("base64") : undefined,
          metrics: moved(metricsBefore, metricsAfter),
          audit: stable(audit[0]),
          logs: logged.slice(logBefore).map((r) => `${r.level} ${r.msg}`),
        });
      }
      assert.deepEqual(seen[1], seen[0], name);
    }
  } finally {
    unsubscribe();
    for (const s of sides) {
      await s.listener.close(100);
      s.metrics.close();
    }
    await stopTestNode(node);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
