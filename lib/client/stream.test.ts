/** Streamed requests: a server that works long on a whole request before it answers is waited for, up to the reply deadline, and then the outcome is unknown. */
import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { newApiKey } from "../identity/apikey.ts";
import { newServerCertificate } from "../identity/x509.ts";
import { OutcomeUnknownError, streamRequest } from "./stream.ts";

/** An HTTPS server that reads the whole body, then answers "ok" after `workMs` (a restore installing what it received). */
async function withSlowServer(workMs: number, fn: (address: string, ca: string, received: () => number) => Promise<void>): Promise<void> {
  const { key, cert } = newServerCertificate(["127.0.0.1"]);
  let bytes = 0;
  const server = https.createServer({ key, cert }, (req, res) => {
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => setTimeout(() => res.end("ok"), workMs));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await fn(`127.0.0.1:${(server.address() as AddressInfo).port}`, cert, () => bytes);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const body = () => Readable.from([Buffer.alloc(64 << 10, 1), Buffer.alloc(64 << 10, 2)]);

test("once the whole body is sent, the reply deadline applies, not the idle one", async () => {
  await withSlowServer(600, async (address, ca, received) => {
    const opts = { servers: [address], apiKey: newApiKey(), ca };
    const reply = await streamRequest(opts, address, "PUT", "/v1/db", body(), {}, { idleMs: 200, replyMs: 10_000 });
    let text = "";
    for await (const c of reply) text += c;
    assert.equal(text, "ok");
    assert.equal(received(), 128 << 10);
  });
});

test("no reply within the reply deadline: OutcomeUnknownError, saying the request may still complete", async () => {
  await withSlowServer(2_000, async (address, ca) => {
    const opts = { servers: [address], apiKey: newApiKey(), ca };
    await assert.rejects(streamRequest(opts, address, "PUT", "/v1/db", body(), {}, { idleMs: 5_000, replyMs: 200 }), (err: Error) => {
      assert.ok(err instanceof OutcomeUnknownError, String(err));
      assert.match(err.message, /no reply 0.2 s after the whole request was sent: its outcome is unknown/);
      assert.equal((err as OutcomeUnknownError).maybeDelivered, true);
      return true;
    });
  });
});
