/**
 * Log streams (issue 13). POST /v1/debug/log is read here with the framing
 * the protocol documents (reference/minio-kms-protocol.md: a stream of
 * [uint32 BE length][LogRecord], each at most 4 KiB), decoded with a schema
 * written in this file from that document and MinIO's public log.proto
 * field numbers, not with the server's own. `kms logs --follow` prints
 * records as they happen; KES's /v1/log/error streams them as JSON lines.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import protobuf from "protobufjs";
import { newApiKey } from "../../lib/identity/apikey.ts";
import { rawRequest, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, kmsCommand, runKms, startServer } from "../helpers/kms.ts";
import { type OpenStream, openStream } from "../helpers/stream.ts";

const root = protobuf.parse(`syntax = "proto3";
package t;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message LogRequest { sint32 level = 1; string message = 2; Timestamp since = 3; sint32 trace_level = 4; }
message LogRecord {
  message StackFrame { string function = 1; string file = 2; uint32 line = 3; }
  message Request { string method = 1; string path = 2; string identity = 3; string ip = 4; }
  sint32 level = 1; Timestamp time = 2; string message = 3; repeated StackFrame trace = 4; Request req = 5;
}`).root;
const LogRequest = root.lookupType("t.LogRequest");
const LogRecord = root.lookupType("t.LogRecord");
const WARN = 4, ERROR = 8;

interface Rec { level: number; time: { seconds: number }; message: string }

/** A LogRequest body. */
function logRequest(level: number, sinceMs = 0): Uint8Array {
  return LogRequest.encode({ level, since: { seconds: Math.floor(sinceMs / 1000), nanos: 0 } }).finish();
}

/** The records of a byte stream: [uint32 BE length][LogRecord]…, complete frames only. */
function records(bytes: Buffer): Rec[] {
  const out: Rec[] = [];
  for (let at = 0; bytes.length - at >= 4;) {
    const n = bytes.readUInt32BE(at);
    assert.ok(n <= 4096, `a record of ${n} bytes (at most 4 KiB)`);
    if (bytes.length - at - 4 < n) break;
    out.push(LogRecord.toObject(LogRecord.decode(bytes.subarray(at + 4, at + 4 + n)), { longs: Number }) as Rec);
    at += 4 + n;
  }
  return out;
}

/** Sends a request whose chunked body is malformed: the server logs a client error (a warning) naming the path. */
function clientError(server: KmsServer, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: server.port, ca: server.ca, servername: "localhost" }, () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      setTimeout(() => s.write("zz\r\nabc\r\n0\r\n\r\n"), 50);
    });
    s.on("data", () => {});
    s.on("close", () => resolve());
    s.on("error", reject);
  });
}

let server: KmsServer;
const streams: OpenStream[] = [];

describe("log streams: the native framing, kms logs --follow, and KES's error log", () => {
  before(async () => {
    server = await startServer();
    await clientError(server, "/v1/kms/before-any-stream");
  });
  after(async () => {
    for (const s of streams) s.close();
    await cleanup();
  });

  it("POST /v1/debug/log replays recent records and then streams new ones, framed as documented", async () => {
    const s = await openStream(server, { path: "/v1/debug/log", method: "POST", body: logRequest(WARN), apiKey: server.apiKey });
    streams.push(s);
    assert.equal(s.status, 200);
    assert.equal(s.headers["content-type"], "application/octet-stream");
    assert.equal(s.headers["content-length"], undefined, "a stream has no length");
    const first = await waitUntil(() => records(s.bytes()).find((r) => r.message.includes("/v1/kms/before-any-stream")), "the earlier record, replayed");
    assert.equal(first.level, WARN);
    assert.ok(Math.abs(first.time.seconds * 1000 - Date.now()) < 60_000, "the record's time");
    await clientError(server, "/v1/kms/while-streaming");
    await waitUntil(() => records(s.bytes()).find((r) => r.message.includes("/v1/kms/while-streaming")), "the new record, as it happens");
  });

  it("records are filtered by level and since; only SYS:LOG may read them", async () => {
    const once = (body: Uint8Array, apiKey = server.apiKey) => rawRequest(server, { method: "POST", path: "/v1/debug/log?follow=false", body, apiKey });
    const warn = await once(logRequest(WARN));
    assert.equal(warn.status, 200);
    assert.ok(records(warn.body).length >= 2);
    assert.deepEqual(records((await once(logRequest(ERROR))).body), [], "no record at level error");
    assert.deepEqual(records((await once(logRequest(WARN, Date.now() + 60_000))).body), [], "none since a minute from now");
    const denied = await once(logRequest(WARN), newApiKey());
    assert.equal(denied.status, 403);
    const bad = await once(new Uint8Array([0xff, 0xff, 0xff]));
    assert.equal(bad.status, 400);
  });

  it("`kms logs --follow` shows records as they happen; `kms logs` prints and ends", async () => {
    const [cmd, ...pre] = kmsCommand();
    const child = spawn(cmd, [...pre, "logs", "--follow", "--level", "warn"], { env: { ...process.env, ...server.env() }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitUntil(() => /kms: WARN client error on POST \/v1\/kms\/while-streaming/.test(out), "the replayed records");
      await clientError(server, "/v1/kms/seen-by-follow");
      await waitUntil(() => /^\d{4}-\d\d-\d\dT[\d:.]+Z kms: WARN client error on POST \/v1\/kms\/seen-by-follow: /m.test(out), "kms logs --follow to print the new record");
    } finally {
      child.kill("SIGINT");
    }
    assert.equal(await exited, 0, out);
    const once = await runKms(["logs", "--json", "--since", "10m"], server.env());
    assert.equal(once.code, 0, once.stderr);
    const lines = once.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === "WARN" && /seen-by-follow/.test(l.msg)), once.stdout);
    // An identity without SYS:LOG gets the server's refusal, not an empty log.
    const denied = await runKms(["logs"], { ...server.env(), MINIO_KMS_API_KEY: newApiKey() });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /access denied/, denied.stderr);
    assert.equal(denied.stdout, "");
  });

  it("KES's GET /v1/log/error streams warnings and errors as JSON lines", async () => {
    const s = await openStream(server, { path: "/v1/log/error", apiKey: server.apiKey });
    streams.push(s);
    assert.equal(s.status, 200);
    assert.equal(s.headers["content-type"], "application/x-ndjson");
    await clientError(server, "/v1/kms/kes-error-log");
    const line = await waitUntil(() => s.bytes().toString().split("\n").find((l) => l.includes("kes-error-log")), "the error log line");
    const event = JSON.parse(line);
    assert.match(event.message, /^client error on POST \/v1\/kms\/kes-error-log/);
    assert.equal((await rawRequest(server, { path: "/v1/log/error", apiKey: newApiKey() })).status, 403);
  });

  it("open streams end when the server stops, without holding it up", async () => {
    const t0 = Date.now();
    assert.equal(await server.stop(), 0);
    assert.ok(Date.now() - t0 < 4_000, `stopped in ${Date.now() - t0} ms`);
    await waitUntil(() => streams.every((s) => s.ended()), "the streams to end");
  });
});
