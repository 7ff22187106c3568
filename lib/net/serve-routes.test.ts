/**
 * A server may have several raw routes (the native endpoint, the node-to-node
 * calls): the first whose match() takes a request serves it, each with its
 * own body bound; the app serves what none takes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { newServerCertificate } from "../identity/x509.ts";
import { clientCredentials, newApiKey, parseApiKey } from "../identity/apikey.ts";
import type { Env } from "./env.ts";
import { type RawRoute, serveTls } from "./serve.ts";
import { createTransport } from "./transport.ts";

/** A raw route for POST `path` answering `name`, with bodies of at most `maxBody` bytes. */
function route(path: string, name: string, maxBody: number): RawRoute {
  const reply = (status: number, text: string) => {
    const body = new TextEncoder().encode(text);
    return { status, headers: { "content-length": String(body.length) }, body };
  };
  return {
    maxBody,
    match: (method, url) => (method === "POST" && url.startsWith(path) ? url : undefined),
    begin: (param) => ({
      handle: async (read) => reply(200, `${name} ${param} ${(await read()).length}`),
      tooLarge: () => reply(413, `${name} too large`),
      failed: () => reply(500, ""),
      end: (r) => r,
    }),
  };
}

test("several raw routes: the first that matches serves, with its own body bound; the app serves the rest", async () => {
  const server = newServerCertificate(["127.0.0.1", "localhost"]);
  const app = new Hono<Env>().all("*", (c) => c.text(`app ${c.req.path}`));
  const routes = [route("/a", "A", 8), route("/a/b", "never", 1 << 20), route("/b", "B", 1 << 20)];
  const listener = await serveTls(app, { ...server, hostname: "127.0.0.1", port: 0 }, routes);
  const client = createTransport({ ca: server.cert, serverName: "localhost", ...clientCredentials(parseApiKey(newApiKey())) });
  const post = async (path: string, size: number) => {
    const r = await client.request(`https://127.0.0.1:${listener.port}`, "POST", path, new Uint8Array(size));
    return `${r.status} ${new TextDecoder().decode(r.body)}`;
  };
  try {
    assert.equal(await post("/a", 3), "200 A /a 3");
    assert.equal(await post("/a/b", 3), "200 A /a/b 3", "the first route that matches, not the most specific");
    assert.equal(await post("/a", 9), "413 A too large", "route A's own bound");
    assert.equal(await post("/b", 9), "200 B /b 9", "route B's own bound");
    assert.equal(await post("/c", 1), "200 app /c");
  } finally {
    client.close();
    await listener.close(100);
  }
});
