/**
 * Self-test of the fault-injecting proxy (tests/helpers/proxy.ts) with plain
 * TCP: forwarding both ways, cut (existing connections destroyed, new ones
 * refused), blackhole (open but silent), heal, close, and attribution of
 * connections to the process that opened them (block/unblock by origin).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { originOf, startProxy, type TcpProxy } from "../helpers/proxy.ts";

const BUN = path.resolve(import.meta.dirname, "../../node_modules/.bin/bun");

/** An echo server that upper-cases nothing: it sends back what it gets. */
let echo: net.Server;
let echoPort: number;
const echoSockets = new Set<net.Socket>();
const proxies: TcpProxy[] = [];
const children: ChildProcess[] = [];

async function proxy(extra: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<TcpProxy> {
  const p = await startProxy({ target: echoPort, ...extra });
  proxies.push(p);
  return p;
}

/** A connected client socket with a reader of everything it receives and a promise of its close. */
async function connect(port: number) {
  const s = net.connect({ host: "127.0.0.1", port });
  let received = "";
  let closedFlag = false;
  s.on("data", (d) => (received += d));
  s.on("error", () => {});
  const closed = new Promise<void>((resolve) => s.once("close", () => {
    closedFlag = true;
    resolve();
  }));
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  return {
    socket: s,
    received: () => received,
    isClosed: () => closedFlag,
    closed,
    /** Writes text and waits (with a deadline) until `expect` has been received in total. */
    async roundTrip(text: string, expect: string, timeoutMs = 5_000) {
      s.write(text);
      await until(() => received === expect, `echo of ${JSON.stringify(expect)} (got ${JSON.stringify(received)})`, timeoutMs);
    },
  };
}

/** Waits for cond with a deadline (polling on the event loop). */
async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves when the promise settles or rejects after timeoutMs. */
function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))])
    .finally(() => clearTimeout(timer));
}

/** Whether a new connection through the port is refused: closed by the proxy before any byte comes back. */
async function refusedNow(port: number): Promise<boolean> {
  let c;
  try {
    c = await connect(port);
  } catch {
    return true; // ECONNREFUSED / ECONNRESET during connect
  }
  c.socket.write("ping");
  await within(c.closed, 5_000, "a refused connection closes");
  return c.received() === "";
}

describe("harness: TCP proxy", () => {
  before(async () => {
    echo = net.createServer((s) => {
      echoSockets.add(s);
      s.on("close", () => echoSockets.delete(s));
      s.on("error", () => {});
      s.on("data", (d) => s.write(d));
      s.on("end", () => s.end());
    });
    await new Promise<void>((resolve) => echo.listen({ host: "127.0.0.1", port: 0 }, () => resolve()));
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const p of proxies) await p.close();
    for (const s of echoSockets) s.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it("forwards both directions, large payloads included, and half-closes", async () => {
    const p = await proxy();
    assert.equal(p.address, `127.0.0.1:${p.port}`);
    const c = await connect(p.port);
    await c.roundTrip("hello", "hello");
    const big = "x".repeat(4 << 20);
    await c.roundTrip(big, "hello" + big, 20_000);
    c.socket.end();
    await within(c.closed, 5_000, "half-close propagates to the echo server and back");
    assert.ok(p.stats.bytes >= 2 * (big.length + 5));
  });

  it("cut destroys existing connections at once and refuses new ones; heal lets them through again", async () => {
    const p = await proxy();
    const a = await connect(p.port);
    const b = await connect(p.port);
    await a.roundTrip("a", "a");
    await b.roundTrip("b", "b");
    const upstreamBefore = echoSockets.size;
    assert.ok(upstreamBefore >= 2);
    p.cut();
    assert.equal(p.isCut, true);
    await within(Promise.all([a.closed, b.closed]), 2_000, "existing connections are destroyed by cut()");
    // Both sides of each pair go: the echo server sees its sockets close too.
    await until(() => echoSockets.size <= upstreamBefore - 2, "the upstream sockets close");
    assert.equal(await refusedNow(p.port), true, "a new connection is refused while cut");
    assert.equal(await refusedNow(p.port), true, "and again");
    assert.ok(p.stats.refused >= 2);
    p.heal();
    assert.equal(p.isCut, false);
    const c = await connect(p.port);
    await c.roundTrip("after heal", "after heal");
    c.socket.destroy();
  });

  it("blackhole keeps connections open but drops every byte; heal destroys them and new ones work", async () => {
    const p = await proxy();
    const a = await connect(p.port);
    await a.roundTrip("1", "1");
    p.cut("blackhole");
    a.socket.write("lost");
    const b = await connect(p.port); // accepted...
    b.socket.write("also lost");
    // ...but silent: give the bytes ample time to come back if they were forwarded.
    const probe = await connect(echoPort); // a direct round trip bounds how long an echo takes
    await probe.roundTrip("direct", "direct");
    probe.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.received(), "1");
    assert.equal(b.received(), "");
    assert.equal(a.isClosed() || b.isClosed(), false, "blackholed connections stay open");
    assert.deepEqual(p.connections().map((c) => c.blackholed), [true, true]);
    p.heal();
    await within(Promise.all([a.closed, b.closed]), 2_000, "blackholed connections are destroyed on heal");
    const c = await connect(p.port);
    await c.roundTrip("ok", "ok");
    c.socket.destroy();
  });

  it("a connection whose target is down is reset; it works once the target listens", async () => {
    const port = await freePort();
    const p = await proxy({ target: () => port });
    assert.equal(await refusedNow(p.port), true);
    const late = net.createServer((s) => s.on("data", (d) => s.write(d)).on("error", () => {}));
    await new Promise<void>((resolve) => late.listen({ host: "127.0.0.1", port }, () => resolve()));
    try {
      const c = await connect(p.port);
      await c.roundTrip("up", "up");
      c.socket.destroy();
    } finally {
      await new Promise<void>((resolve) => {
        late.close(() => resolve());
      });
    }
  });

  it("listens on a fixed port when asked, and close() frees it and ends every connection", async () => {
    const port = await freePort();
    const p = await startProxy({ target: echoPort, port });
    assert.equal(p.port, port);
    const c = await connect(port);
    await c.roundTrip("x", "x");
    await p.close();
    await within(c.closed, 2_000, "close() ends connections");
    await assert.rejects(connect(port), /ECONNREFUSED/);
  });

  it("attributes connections to the process that opened them, and block/unblock acts on that origin only", async () => {
    const pids = new Map<number, string>();
    const p = await proxy({ origins: () => pids });
    // A child process that keeps one connection through the proxy open and echoes what it receives to stdout.
    const child = spawn(BUN, ["-e", `
      const net = require("node:net");
      const s = net.connect({ host: "127.0.0.1", port: ${p.port} }, () => { s.write("child"); });
      s.on("data", (d) => process.stdout.write("got:" + d + "\\n"));
      s.on("close", () => { process.stdout.write("closed\\n"); process.exit(0); });
      s.on("error", () => {});
    `], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    pids.set(child.pid!, "child");
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    await until(() => out.includes("got:child"), "the child's round trip", 10_000);
    const own = await connect(p.port);
    await own.roundTrip("mine", "mine");
    const origins = p.connections().map((c) => c.origin ?? "-").sort();
    assert.deepEqual(origins, ["-", "child"], "the child's connection is attributed to it, ours to nobody");

    p.block("child");
    await until(() => out.includes("closed"), "the child's connection is destroyed by block()", 5_000);
    await own.roundTrip("still", "minestill"); // other origins are untouched
    own.socket.destroy();

    // A new connection from the blocked origin is refused; after unblock it goes through.
    const again = async () => {
      const c = spawn(BUN, ["-e", `
        const net = require("node:net");
        const s = net.connect({ host: "127.0.0.1", port: ${p.port} }, () => s.write("again"));
        let got = "";
        s.on("data", (d) => { got += d; if (got === "again") { process.stdout.write("echoed"); s.destroy(); } });
        s.on("close", () => process.exit(0));
        s.on("error", () => {});
      `], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(c);
      pids.set(c.pid!, "child");
      let o = "";
      c.stdout!.on("data", (d) => (o += d));
      await within(new Promise((resolve) => c.once("exit", resolve)), 10_000, "the second child exits");
      return o;
    };
    assert.equal(await again(), "", "refused while blocked");
    p.unblock("child");
    assert.equal(await again(), "echoed", "through after unblock");
  });

  it("block by origin in blackhole mode silences only that origin; unblock destroys its silenced connections", async () => {
    // This test process is the origin here.
    const p = await proxy({ origins: () => new Map([[process.pid, "me"]]) });
    const a = await connect(p.port);
    await a.roundTrip("a", "a");
    assert.deepEqual(p.connections().map((c) => c.origin), ["me"]);
    p.block("me", "blackhole");
    a.socket.write("lost");
    const b = await connect(p.port);
    b.socket.write("lost too");
    const probe = await connect(echoPort);
    await probe.roundTrip("direct", "direct");
    probe.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.received(), "a");
    assert.equal(b.received(), "");
    assert.equal(a.isClosed() || b.isClosed(), false);
    // A whole-proxy reset cut wins over the origin's blackhole, and heal() leaves the origin blocked.
    p.cut("reset");
    await within(Promise.all([a.closed, b.closed]), 2_000, "reset destroys blackholed connections");
    p.heal();
    const c = await connect(p.port);
    c.socket.write("still lost");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.received(), "");
    p.unblock("me");
    await within(c.closed, 2_000, "unblock destroys the origin's silenced connections");
    const d = await connect(p.port);
    await d.roundTrip("back", "back");
    d.socket.destroy();
  });

  it("originOf is undefined for sockets of other processes and unknown ports", () => {
    assert.equal(originOf(1, 2, new Map([[process.pid, "me"]])), undefined);
    assert.equal(originOf(1, 2, new Map()), undefined);
  });
});

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen({ host: "127.0.0.1", port: 0 }, () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
