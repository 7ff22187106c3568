/**
 * Hostile clients against a real server with short, documented limits: a
 * flood of connections that never handshake, never send a request, trickle
 * their headers, never finish their body, idle after a request or never read
 * a large reply. Meanwhile a legitimate client's requests keep succeeding
 * within 1 s each; afterwards the server has closed every abusive connection
 * within its deadline. Then SIGTERM with a stalled client ends the process
 * within the shutdown deadline. Server-side socket states come from `ss`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { after, describe, it } from "node:test";
import { framesOf, postNative, rawRequest, stopWithin, waitUntil } from "../helpers/e2e.ts";
import { clientIdOf } from "../helpers/kes.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const LIMITS = ["--max-connections", "64", "--handshake-timeout", "2s", "--header-timeout", "2s", "--idle-timeout", "3s", "--body-timeout", "2s", "--write-timeout", "2s", "--shutdown-timeout", "2s"];
/** The longest deadline above; every abusive connection must be gone this long after it could last act, plus slack for a loaded machine. */
const LONGEST_MS = 3_000;
const SLACK_MS = 10_000;

/** Server-side sockets of `port` still ESTABLISHED (to the given client ports, or any). */
function established(port: number, clientPorts?: Set<number>): number {
  const out = execFileSync("ss", ["-Htn", "state", "established", `( sport = :${port} )`]).toString();
  const peers = out.split("\n").filter(Boolean).map((l) => Number(/:(\d+)\s*$/.exec(l.trim())?.[1]));
  return clientPorts ? peers.filter((p) => clientPorts.has(p)).length : peers.length;
}

/** An abusive connection: which kind, when the server closed it (client side), its local port. */
interface Abuser {
  readonly kind: string;
  readonly socket: net.Socket;
  openedAt: number;
  closedAt?: number;
}

describe("connection abuse", () => {
  after(cleanup);

  for (const threads of (process.env.THREADS ?? "1,2").split(",").map(Number)) {
    const of = threads > 1 ? ` (${threads} serving threads)` : "";
    it(`keeps serving an authenticated client through a flood of idle and slow connections, then closes them all${of}`, () => flood(threads));
  }

  it("SIGTERM with a client stalled mid-body ends the process within the shutdown deadline", async () => {
    // A long body timeout, so only the shutdown deadline (2 s) can end the stalled request.
    const server: KmsServer = await startServer({ extraArgs: ["--body-timeout", "1m", "--shutdown-timeout", "2s"] });
    const admin = clientIdOf(server.apiKey);
    const stalled = tls.connect({ host: "127.0.0.1", port: server.port, ca: server.ca, servername: "localhost", cert: admin.cert, key: admin.key }, () => {
      stalled.write("POST /v1/kms/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nabc");
    });
    stalled.on("error", () => {});
    await new Promise((resolve) => stalled.once("secureConnect", resolve));
    await waitUntil(() => established(server.port) > 0, "the stalled connection to be established");
    const t0 = Date.now();
    const code = await stopWithin(server, "SIGTERM", 15_000);
    const took = Date.now() - t0;
    assert.notEqual(code, "timeout", "the server stopped");
    assert.ok(took < 2_000 + SLACK_MS, `stopped ${took} ms after SIGTERM (deadline 2 s)`);
    stalled.destroy();
  });
});

/** A flood of abusive connections against a server with LIMITS, while a legitimate client keeps being served. */
async function flood(threads: number): Promise<void> {
  const server = await startServer({ extraArgs: threads > 1 ? [...LIMITS, "--threads", String(threads)] : LIMITS });
  const c = server.client();
  await c.createEnclave("abuse");
  await c.createKey("abuse", "k");
  c.close();
  const anonymous = { host: "127.0.0.1", port: server.port, ca: server.ca, servername: "localhost" };
  const admin = clientIdOf(server.apiKey);
  const abusers: Abuser[] = [];
  const track = (kind: string, socket: net.Socket) => {
    const a: Abuser = { kind, socket, openedAt: Date.now() };
    socket.on("error", () => {});
    if (kind !== "slow reader") socket.resume(); // a paused socket never reports the server's close
    socket.on("close", () => (a.closedAt = Date.now()));
    abusers.push(a);
    return a;
  };
  const open = {
    raw: () => track("no handshake", net.connect(server.port, "127.0.0.1")),
    silent: () => track("no request", tls.connect(anonymous)),
    trickle: () => {
      const s = tls.connect(anonymous, () => {
        s.write("GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write("a")), 500);
      });
      return track("header trickle", s);
    },
    body: () => {
      const s = tls.connect(anonymous, () => s.write("POST /v1/kms/abuse HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"));
      return track("unfinished body", s);
    },
    keepAlive: () => {
      const s = tls.connect(anonymous, () => s.write("GET /version HTTP/1.1\r\nHost: x\r\n\r\n"));
      return track("idle keep-alive", s);
    },
  };

  // A client that never reads a ~20 MB reply: 10,000 pipelined 1 KiB data keys.
  const big = framesOf(Array.from({ length: 10_000 }, () => ({ id: 207, request: "GenerateKeyRequest", message: { name: "k", length: 1024 } })));
  const slow = tls.connect({ ...anonymous, cert: admin.cert, key: admin.key }, () => {
    slow.write(`POST /v1/kms/abuse HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${big.length}\r\n\r\n`);
    slow.write(big);
  });
  let slowGot = 0;
  slow.on("data", (d) => {
    slowGot += d.length;
    slow.pause(); // read one chunk, never more
  });
  const slowReader = track("slow reader", slow);
  await waitUntil(() => slowGot > 0, "the slow reader's first bytes", 30_000);

  // The legitimate client is connected before the flood, as a MinIO server would be.
  const list = framesOf([{ id: 208, request: "ListRequest", message: {} }]);
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.ca, cert: admin.cert, key: admin.key, servername: "localhost" });
  assert.equal((await postNative(server, "abuse", list, { agent: keepAlive })).status, 200);

  // The flood: over the cap at once with connections that never handshake,
  // then abusers of every kind every 100 ms for 3 s (spread out, so the test
  // process's own TLS handshakes do not stall its legitimate client), about
  // one cap's worth every two seconds.
  for (let i = 0; i < 80; i++) open.raw();
  // The server has taken the burst once it sheds: 80 connections for a cap of 64.
  await waitUntil(() => abusers.filter((a) => a.closedAt !== undefined).length >= 80 - 64, "the server to shed part of the burst", 30_000);
  const floodUntil = Date.now() + 3_000;
  let tick = 0;
  const flood = setInterval(() => {
    if (Date.now() > floodUntil) return clearInterval(flood);
    open.silent(), open.raw();
    if (tick++ < 10) open.trickle(), open.body(), open.keepAlive();
  }, 100);

  // The legitimate client: each request answered within 1 s.
  const latencies: number[] = [];

  while (Date.now() < floodUntil || (latencies.length < 5 && Date.now() < floodUntil + 15_000)) {
    const t0 = Date.now();
    // Mostly on its kept-alive connection, as MinIO's client works; every 5th on a new one.
    const fresh = latencies.length % 5 === 4;
    const r = await postNative(server, "abuse", list, { timeoutMs: 1_000, agent: fresh ? undefined : keepAlive });
    latencies.push(Date.now() - t0);
    assert.equal(r.status, 200, `request ${latencies.length} during the flood`);
  }
  clearInterval(flood);
  keepAlive.destroy();
  assert.ok(latencies.length >= 5, `the legitimate client made ${latencies.length} requests`);
  assert.ok(Math.max(...latencies) < 1_000, `every request within 1 s (slowest ${Math.max(...latencies)} ms)`);

  // Every abusive connection is closed by the server within its deadline.
  const lastOpened = Math.max(...abusers.map((a) => a.openedAt));
  const ports = new Set(abusers.map((a) => a.socket.localPort).filter((p): p is number => p !== undefined));
  await waitUntil(() => established(server.port, ports) === 0, "the server to close every abusive connection", LONGEST_MS + SLACK_MS + (Date.now() - lastOpened));
  // Client-side closes (the slow reader is paused, so its close shows only server-side, above).
  await waitUntil(() => abusers.every((a) => a === slowReader || a.closedAt !== undefined), "every abusive client to see its connection closed", SLACK_MS);
  for (const a of abusers) {
    if (a === slowReader) continue;
    assert.ok(a.closedAt! - a.openedAt <= LONGEST_MS + SLACK_MS, `${a.kind}: closed after ${a.closedAt! - a.openedAt} ms`);
  }
  assert.ok(slowGot < big.length * 2, "the slow reader got only part of its reply");

  // The server still serves, and logged no internal error.
  assert.equal((await rawRequest(server, { path: "/version" })).status, 200);
  assert.doesNotMatch(server.output(), /internal error|uncaught|unhandled/i);
}
