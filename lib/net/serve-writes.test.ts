/**
 * A raw route's reply leaves in one socket write (one TLS record, one
 * sendto): headers and body together. Two writes per reply cost the
 * single-operation path a second record and syscall (docs/performance.md).
 * The server's socket writes are counted where node:net hands them to the
 * runtime (Socket#_write / #_writev), on the server's side of the connection only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { Hono } from "hono";
import { newServerCertificate } from "../identity/x509.ts";
import { clientCredentials, newApiKey, parseApiKey } from "../identity/apikey.ts";
import type { Env } from "./env.ts";
import { type RawRoute, serveTls } from "./serve.ts";

const BODY = new Uint8Array(126).fill(7);

const route: RawRoute = {
  maxBody: 1024,
  match: (method, url) => (method === "POST" && url === "/raw" ? "" : undefined),
  begin: () => ({
    handle: async (read) => {
      await read();
      return { status: 200, headers: { "content-type": "application/octet-stream", "content-length": String(BODY.length), "x-request-id": "r-1" }, body: BODY };
    },
    tooLarge: () => ({ status: 413, headers: { "content-length": "0" }, body: new Uint8Array() }),
    failed: () => ({ status: 500, headers: { "content-length": "0" }, body: new Uint8Array() }),
    end: (reply) => reply,
  }),
};

const DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

test("a raw route's reply is one socket write, headers and body together", { skip: DENO }, async () => {
  const server = newServerCertificate(["127.0.0.1", "localhost"]);
  const listener = await serveTls(new Hono<Env>(), { ...server, hostname: "127.0.0.1", port: 0 }, route);
  const proto = net.Socket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => unknown>;
  const original = { _write: proto._write, _writev: proto._writev };
  // Bun's _writev joins the chunks and calls _write: a write is counted where it enters, not again inside.
  let writes = 0, depth = 0;
  for (const name of ["_write", "_writev"] as const) {
    proto[name] = function (this: net.Socket, ...args: unknown[]) {
      if (depth === 0 && this.localPort === listener.port) writes++;
      depth++;
      try {
        return original[name].apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  const socket = tls.connect({ host: "127.0.0.1", port: listener.port, ca: server.cert, servername: "localhost", ...clientCredentials(parseApiKey(newApiKey())) });
  try {
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    const request = Buffer.from(`POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`);
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    const REQUESTS = 5;
    for (let i = 1; i <= REQUESTS; i++) {
      const before = received.length;
      socket.write(request);
      const deadline = Date.now() + 10_000;
      // One whole reply: its head, then exactly Content-Length bytes.
      for (;;) {
        const text = received.subarray(before).toString("latin1");
        const head = text.indexOf("\r\n\r\n");
        if (head >= 0 && text.length >= head + 4 + BODY.length) break;
        if (Date.now() > deadline) throw new Error(`no whole reply to request ${i}: ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      assert.match(received.subarray(before).toString("latin1"), /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 126\r\n/i);
    }
    assert.equal(writes, REQUESTS, "one socket write per reply");
  } finally {
    Object.assign(proto, original);
    socket.destroy();
    await listener.close(100);
  }
});
