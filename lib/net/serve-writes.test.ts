/**
 * A raw route's reply leaves in one socket write (one TLS record, one
 * sendto): headers and body together. Two writes per reply cost the
 * single-operation path a second record and syscall (docs/performance.md).
 * A large reply leaves in pieces, one per turn of the event loop, so other
 * connections are served between them (head-of-line).
 * The server's socket writes are seen where node:net hands them to the
 * runtime (Socket#_write / #_writev), on the server's side of the connection only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { setImmediate } from "node:timers";
import { Hono } from "hono";
import { newServerCertificate } from "../identity/x509.ts";
import { clientCredentials, newApiKey, parseApiKey } from "../identity/apikey.ts";
import type { Env } from "./env.ts";
import { type RawRoute, REPLY_PIECE, serveTls } from "./serve.ts";

const BODY = new Uint8Array(126).fill(7);

/** 1 MB and a bit, every byte telling where it is. */
const BIG = Uint8Array.from({ length: 16 * REPLY_PIECE + 100 }, (_, i) => (i * 7) >>> 3);

const route: RawRoute = {
  maxBody: 1024,
  match: (method, url) => (method === "POST" && (url === "/raw" || url === "/big") ? url : undefined),
  begin: (url) => ({
    handle: async (read) => {
      await read();
      const body = url === "/big" ? BIG : BODY;
      return { status: 200, headers: { "content-type": "application/octet-stream", "content-length": String(body.length), "x-request-id": "r-1" }, body };
    },
    tooLarge: () => ({ status: 413, headers: { "content-length": "0" }, body: new Uint8Array() }),
    failed: () => ({ status: 500, headers: { "content-length": "0" }, body: new Uint8Array() }),
    end: (reply) => reply,
  }),
};

const DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** Calls `seen` with each socket write the server on `port` makes (the client port it goes to); returns the function that stops watching. */
function watchWrites(port: number, seen: (clientPort: number | undefined) => void): () => void {
  const proto = net.Socket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => unknown>;
  const original = { _write: proto._write, _writev: proto._writev };
  // Bun's _writev joins the chunks and calls _write: a write is counted where it enters, not again inside.
  let depth = 0;
  for (const name of ["_write", "_writev"] as const) {
    proto[name] = function (this: net.Socket, ...args: unknown[]) {
      if (depth === 0 && this.localPort === port) seen(this.remotePort);
      depth++;
      try {
        return original[name].apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  return () => Object.assign(proto, original);
}

/** A TLS connection to the listener on `port`, once secured. */
async function connect(port: number, ca: string): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost", ...clientCredentials(parseApiKey(newApiKey())) });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  return socket;
}

/** Waits until `received()` holds a whole reply (its head, then `length` bytes of body); gives the body. */
async function wholeReply(received: () => Buffer, length: number, what: string): Promise<Buffer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = received().toString("latin1");
    const head = text.indexOf("\r\n\r\n");
    if (head >= 0 && text.length >= head + 4 + length) {
      assert.match(text, new RegExp(`^HTTP/1\\.1 200 OK\r\n[^]*content-length: ${length}\r\n`, "i"));
      return received().subarray(head + 4);
    }
    if (Date.now() > deadline) throw new Error(`no whole reply to ${what}: ${text.length} bytes`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const post = (path: string) => Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`);

test("a raw route's reply is one socket write, headers and body together", { skip: DENO }, async () => {
  const server = newServerCertificate(["127.0.0.1", "localhost"]);
  const listener = await serveTls(new Hono<Env>(), { ...server, hostname: "127.0.0.1", port: 0 }, route);
  let writes = 0;
  const unwatch = watchWrites(listener.port, () => writes++);
  const socket = await connect(listener.port, server.cert);
  try {
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    const REQUESTS = 5;
    for (let i = 1; i <= REQUESTS; i++) {
      const before = received.length;
      socket.write(post("/raw"));
      await wholeReply(() => received.subarray(before), BODY.length, `request ${i}`);
    }
    assert.equal(writes, REQUESTS, "one socket write per reply");
  } finally {
    unwatch();
    socket.destroy();
    await listener.close(100);
  }
});

test("a large reply is written in pieces with turns of the event loop between them; another connection is served meanwhile", { skip: DENO }, async () => {
  const server = newServerCertificate(["127.0.0.1", "localhost"]);
  const listener = await serveTls(new Hono<Env>(), { ...server, hostname: "127.0.0.1", port: 0 }, route);
  const big = await connect(listener.port, server.cert);
  const small = await connect(listener.port, server.cert);
  // What happened on the server, in order: "big" and "small" for its writes to each connection, "turn" for a turn of the event loop.
  const events: string[] = [];
  let turning = true;
  const turn = () => {
    if (!turning) return;
    if (events.at(-1) === "big") events.push("turn");
    setImmediate(turn);
  };
  const unwatch = watchWrites(listener.port, (clientPort) => {
    const which = clientPort === big.localPort ? "big" : "small";
    // The small request is sent once the big reply has begun: it must not wait for the rest.
    if (which === "big" && !events.includes("big")) small.write(post("/raw"));
    events.push(which);
  });
  try {
    let bigIn = Buffer.alloc(0), smallIn = Buffer.alloc(0);
    big.on("data", (d: Buffer) => (bigIn = Buffer.concat([bigIn, d])));
    small.on("data", (d: Buffer) => (smallIn = Buffer.concat([smallIn, d])));
    setImmediate(turn);
    big.write(post("/big"));
    const body = await wholeReply(() => bigIn, BIG.length, "the big request");
    await wholeReply(() => smallIn, BODY.length, "the small request");
    assert.ok(Buffer.from(BIG).equals(body), "the pieces make the reply, in order");
    const bigWrites = events.filter((e) => e === "big").length;
    assert.ok(bigWrites >= BIG.length / REPLY_PIECE, `the big reply left in pieces (${bigWrites} writes)`);
    // Between any two writes of the big reply the event loop turned.
    for (let i = events.indexOf("big"), last = events.lastIndexOf("big"); i < last; i++) {
      if (events[i] === "big") assert.notEqual(events[i + 1], "big", `two pieces in one turn: ${events.join(" ")}`);
    }
    assert.ok(events.indexOf("small") < events.lastIndexOf("big"), `the other connection was answered before the big reply ended: ${events.join(" ")}`);
  } finally {
    turning = false;
    unwatch();
    big.destroy();
    small.destroy();
    await listener.close(100);
  }
});
