/**
 * Replication messages to one peer travel over several requests at once
 * (bounded), over real mutual TLS with the cluster's credentials, and every
 * message queued arrives once the peer answers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { newServerKey } from "../identity/x509.ts";
import type { Message } from "../cluster/types.ts";
import { NODE_SERVERNAME } from "./cluster-ca.ts";
import { newCredentials } from "./credentials.ts";
import { NodeKeys, peerCredentials } from "./node-keys.ts";
import { answerOf, Peers, RPC } from "./peers.ts";
import { openPayload, sealPayload } from "./seal.ts";
import { SoftHsm } from "../hsm/soft.ts";

/** Resolves when `ok()` holds, checking every few ms; rejects after `ms`. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("replication requests to one peer are pipelined (several in flight, at most 4) and every message arrives", async () => {
  const keys = new NodeKeys(SoftHsm.parse(SoftHsm.generate()), newCredentials(), newServerKey().export({ type: "pkcs8", format: "pem" }).toString(), ["127.0.0.1"]);
  const creds = peerCredentials(keys.cluster);
  const held: ServerResponse[] = [];
  const received: number[] = [];
  let inFlight = 0, most = 0;
  const server = https.createServer({ key: creds.key, cert: creds.cert, ca: creds.ca, requestCert: true, rejectUnauthorized: true }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const env = openPayload(creds.rpc, RPC.raft, new Uint8Array(Buffer.concat(chunks))) as { body: { messages: Array<{ term: number }> } };
      for (const m of env.body.messages) received.push(m.term);
      inFlight++;
      most = Math.max(most, inFlight);
      res.on("finish", () => inFlight--);
      held.push(res); // answered only when the test says so: the request stays in flight
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const peers = new Peers<unknown>(creds, NODE_SERVERNAME);
  try {
    const message = (term: number) => ({ type: "heartbeat", from: 1, to: 2, term }) as unknown as Message<unknown>;
    for (let i = 1; i <= 10; i++) peers.send(addr, "127.0.0.1:1", [message(i)]);
    await until(() => inFlight === 4, 10_000, "4 requests in flight");
    // Nothing more goes out while 4 are unanswered.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(most, 4, "at most 4 requests in flight");
    // Answer everything as it comes: the rest of the queue follows.
    const answer = () => { for (const res of held.splice(0)) res.end(); };
    answer();
    await until(() => { answer(); return received.length === 10; }, 10_000, "every message");
    assert.deepEqual([...received].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  } finally {
    for (const res of held.splice(0)) res.end();
    peers.close();
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
});

test("a peer's answer to a replication request is taken only when sealed for that request and well formed", () => {
  const rpc = new Uint8Array(32).fill(7);
  const other = new Uint8Array(32).fill(8);
  const ack = { type: "appendResp", cluster: "c", from: 2, to: 1, term: 3, success: true, index: 9, hint: 9, aborted: null };
  const reply = (key: Uint8Array, body: unknown) => sealPayload(key, `${RPC.raft}#reply`, body);
  assert.deepEqual(answerOf(rpc, "n1", reply(rpc, { nonce: "n1", ok: { messages: [ack] } })), [ack]);
  assert.deepEqual(answerOf(rpc, "n1", reply(rpc, { nonce: "n1", ok: {} })), [], "an older node's {} carries nothing");
  assert.deepEqual(answerOf(rpc, "n1", reply(rpc, { nonce: "n2", ok: { messages: [ack] } })), [], "the answer to another request");
  assert.deepEqual(answerOf(rpc, "n1", reply(other, { nonce: "n1", ok: { messages: [ack] } })), [], "not sealed with the cluster's key");
  assert.deepEqual(answerOf(rpc, "n1", reply(rpc, { nonce: "n1", ok: { messages: [{ ...ack, type: "bogus" }] } })), [], "not a message");
  assert.deepEqual(answerOf(rpc, "n1", reply(rpc, { nonce: "n1", ok: { messages: Array(1025).fill(ack) } })), [], "more than a batch's worth");
  assert.deepEqual(answerOf(rpc, "n1", new Uint8Array([1, 2, 3])), [], "garbage");
});
