import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createTransport, TransportError } from "./transport.ts";
import { CLIENT_ERROR_MESSAGE, rawBadRequest } from "./errors.ts";

/** A server that answers every request with `reply(url)`'s raw bytes, then closes. */
async function rawServer(reply: (url: string) => string): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.socket!.end(reply(req.url ?? "")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => new Promise((r) => server.close(() => r())) };
}

test("the server's 400 for a request it could not read whole is a transport error (maybe delivered), not a definite refusal", async () => {
  const other = JSON.stringify({ message: "invalid request: bad frame" });
  const s = await rawServer((url) =>
    url === "/mangled" ? rawBadRequest(undefined)
    : `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${other.length}\r\nConnection: close\r\n\r\n${other}`
  );
  const t = createTransport({});
  try {
    // We sent the whole request: a reply saying it arrived incomplete means it was re-sent mangled.
    const err = await t.request(s.base, "POST", "/mangled", new Uint8Array(10)).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof TransportError, `got ${String(err)}`);
    assert.equal(err.maybeDelivered, true);
    assert.doesNotMatch(err.message, new RegExp(CLIENT_ERROR_MESSAGE));
    // Any other 400 is the server's answer, passed on as it is.
    const reply = await t.request(s.base, "POST", "/other", new Uint8Array(10));
    assert.equal(reply.status, 400);
    assert.equal(new TextDecoder().decode(reply.body), other);
  } finally {
    t.close();
    await s.close();
  }
});
