/**
 * The TLS stack's ceiling: a server that does nothing but read the request
 * body and answer 200 with an empty body, on the stack kms serves with.
 *   raw   node:tls (client certificate requested, identity computed once per
 *         connection) handing sockets to node:http, as lib/net/serve.ts does
 *   hono  lib/net/serve.ts itself with a one-route hono app: the stack plus
 *         hono's adapter and router, i.e. everything but kms's own work
 * Run: bun bench/support/empty-server.ts raw|hono DIR  (writes DIR/server.crt,
 * prints "Listening on https://127.0.0.1:PORT"; stops on SIGTERM).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { serveTls } from "../../lib/net/serve.ts";
import type { Env } from "../../lib/net/env.ts";
import { identityOfCertificate } from "../../lib/identity/identity.ts";
import { newServerKey, selfSignedCertificate } from "../../lib/identity/x509.ts";

const [kind, dir] = process.argv.slice(2);
if ((kind !== "raw" && kind !== "hono") || !dir) {
  console.error("usage: empty-server.ts raw|hono DIR");
  process.exit(2);
}

const privateKey = newServerKey();
const key = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const cert = selfSignedCertificate({ privateKey, commonName: "bench", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], days: 1, purpose: "server" });
writeFileSync(path.join(dir, "server.crt"), cert);

const EMPTY = { "content-type": "application/octet-stream", "content-length": "0" };

/** node:tls → node:http with a handler that reads the body and answers at once. */
function serveRaw(): Promise<{ port: number; close(): void }> {
  const identities = new WeakMap<tls.TLSSocket, string | undefined>();
  const inner = http.createServer((req, res) => {
    const socket = req.socket as tls.TLSSocket;
    if (!identities.has(socket)) {
      const peer = socket.getPeerCertificate(true);
      identities.set(socket, peer?.raw ? identityOfCertificate(new Uint8Array(peer.raw)) : undefined);
    }
    req.on("data", () => {});
    req.on("end", () => {
      res.writeHead(identities.get(socket) ? 200 : 403, EMPTY);
      res.end();
    });
  });
  const server = tls.createServer({ key, cert, requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" }, (socket) => {
    inner.emit("connection", socket);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }));
  });
}

/** lib/net/serve.ts with a hono app whose one route reads the body and answers at once. */
async function serveHono(): Promise<{ port: number; close(): void }> {
  const app = new Hono<Env>();
  app.post("/v1/kms/:enclave", async (c) => {
    await c.req.arrayBuffer();
    return new Response(null, { status: c.env.identity ? 200 : 403, headers: EMPTY });
  });
  const listener = await serveTls(app, { key, cert, hostname: "127.0.0.1", port: 0 });
  return { port: listener.port, close: () => void listener.close() };
}

const server = kind === "raw" ? await serveRaw() : await serveHono();
console.log(`Listening on https://127.0.0.1:${server.port}`);
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
