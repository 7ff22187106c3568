/**
 * A server serves node-to-node calls (POST /v1/rpc/<op>) through a raw route
 * (no web Request, hono context or Response per call): a cluster's every
 * write crosses it several times. It must keep every check of the app's
 * route: only a certificate of the cluster CA with a payload sealed under
 * the cluster's RPC key is answered, a call is taken once, and the answer is
 * sealed for that very call. Both routes must answer alike.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createRawRoutes } from "./app.ts";
import { rpcRawRoute } from "./rpc.ts";
import { issueNodeCertificate } from "../node/cluster-ca.ts";
import { envelope, type ReplyEnvelope, RPC } from "../node/peers.ts";
import { openPayload, sealPayload } from "../node/seal.ts";
import { newServerKey } from "../identity/x509.ts";
import { type RawRoute, replyBytes } from "../net/serve.ts";
import { type TestKms, withKms } from "../../tests/support/app.ts";

const silent = { warn() {}, error() {} };

/** The DER certificate of a node of kms's cluster (issued by its CA). */
function nodeCertificate(kms: TestKms): Uint8Array {
  const pem = issueNodeCertificate(kms.node.keys.cluster.ca, newServerKey(), ["127.0.0.1"]);
  return new Uint8Array(new X509Certificate(pem).raw);
}

/** A fresh sealed call of `path` from a node of kms's cluster (or of `cluster`), under `rpc` (default: the cluster's key). */
function call(kms: TestKms, path: string, body: unknown, opts: { cluster?: string; rpc?: Uint8Array } = {}) {
  const sealed = envelope(opts.cluster ?? kms.node.cluster, body);
  return { nonce: sealed.nonce, body: sealPayload(opts.rpc ?? kms.node.keys.cluster.rpc, path, sealed) as Uint8Array<ArrayBuffer> };
}

/** The raw route's answer (served as the server serves it: the first of createRawRoutes that matches). */
async function viaRaw(kms: TestKms, path: string, certificate: Uint8Array | undefined, body: Uint8Array) {
  const route = createRawRoutes({ node: kms.node }).find((r) => r.match("POST", path) !== undefined);
  assert.ok(route, `${path} is a raw route's`);
  const headers = { "content-type": "application/octet-stream", "content-length": String(body.length) };
  const x = route.begin(route.match("POST", path)!, { method: "POST", path, headers, peer: { identity: undefined, certificate }, ip: "127.0.0.1" });
  const reply = x.end(await x.handle(() => Promise.resolve(body)));
  assert.equal(reply.headers["content-length"], String(replyBytes(reply.body).length), "an exact Content-Length");
  assert.match(reply.headers["x-request-id"] ?? "", /^[0-9a-f]{8}-[0-9a-z]+$/, "a request id, as the app's replies carry");
  return { status: reply.status, type: reply.headers["content-type"], body: new Uint8Array(replyBytes(reply.body)) };
}

/** The app's answer to the same call. */
async function viaApp(kms: TestKms, path: string, certificate: Uint8Array | undefined, body: Uint8Array<ArrayBuffer>) {
  const res = await kms.app.request(path, { method: "POST", body, headers: { "content-type": "application/octet-stream" } }, { certificate });
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.headers.get("content-length"), String(bytes.length));
  return { status: res.status, type: res.headers.get("content-type") ?? undefined, body: bytes };
}

/** What a sealed reply says, opened with the cluster's key for `path`. */
function opened(kms: TestKms, path: string, body: Uint8Array): ReplyEnvelope {
  return openPayload(kms.node.keys.cluster.rpc, `${path}#reply`, body) as ReplyEnvelope;
}

test("node-to-node calls are served on the raw route, answered as the app's route answers them", async () => {
  await withKms(async (kms) => {
    const cert = nodeCertificate(kms);
    for (const via of [viaRaw, viaApp]) {
      const label = via === viaRaw ? "raw route" : "app";
      // A sealed call from a node of the cluster: answered sealed, for this call's nonce.
      const status = call(kms, RPC.progress, {});
      const ok = await via(kms, RPC.progress, cert, status.body);
      assert.deepEqual([ok.status, ok.type], [200, "application/octet-stream"], label);
      const reply = opened(kms, RPC.progress, ok.body);
      assert.equal(reply.nonce, status.nonce, `${label}: the answer is for this very call`);
      assert.deepEqual(Object.keys(reply.ok as object).sort(), ["commit", "term"], label);
      // The same call again is a replay: refused.
      const again = await via(kms, RPC.progress, cert, status.body);
      assert.equal(again.status, 403, `${label}: a replay is refused`);
      // A raft batch: the node steps it (a stale term's acknowledgement, which the core drops) and answers with its messages: none.
      const raft = call(kms, RPC.raft, { from: "127.0.0.1:1", messages: [{ type: "appendResp", cluster: kms.node.cluster, from: 9, to: 1, term: 0, reject: false, index: 0 }], answer: true });
      const stepped = await via(kms, RPC.raft, cert, raft.body);
      assert.equal(stepped.status, 200, label);
      assert.deepEqual(opened(kms, RPC.raft, stepped.body), { nonce: raft.nonce, ok: { messages: [] } }, label);
      // A malformed batch from a node of the cluster: a sealed 400.
      const bad = call(kms, RPC.raft, { from: "127.0.0.1:1", messages: [{ type: "nonsense" }] });
      const refused = opened(kms, RPC.raft, (await via(kms, RPC.raft, cert, bad.body)).body);
      assert.equal(refused.error?.status, 400, `${label}: an invalid batch is refused, sealed`);
      // Another cluster's call (same key): a sealed 409.
      const other = call(kms, RPC.raft, { from: "127.0.0.1:1", messages: [] }, { cluster: "f".repeat(32) });
      assert.equal(opened(kms, RPC.raft, (await via(kms, RPC.raft, cert, other.body)).body).error?.status, 409, `${label}: another cluster`);
    }
    // Whoever is not a node of this cluster is refused the same way by both: unsealed JSON, nothing stepped.
    const strangers: Array<[string, Uint8Array | undefined, Uint8Array<ArrayBuffer>]> = [
      ["no certificate", undefined, call(kms, RPC.raft, { from: "x", messages: [] }).body],
      ["not sealed", cert, new Uint8Array(64)],
      ["sealed under another key", cert, call(kms, RPC.raft, { from: "x", messages: [] }, { rpc: new Uint8Array(32).fill(1) }).body],
    ];
    for (const [name, certificate, body] of strangers) {
      const raw = await viaRaw(kms, RPC.raft, certificate, body);
      assert.equal(raw.status, 403, name);
      assert.deepEqual(raw, await viaApp(kms, RPC.raft, certificate, body), name);
    }
  });
});

test("the raw route takes POSTs to /v1/rpc/<op> without a query; the app serves the rest", async () => {
  await withKms(async (kms) => {
    const route: Pick<RawRoute, "match" | "maxBody"> = rpcRawRoute({ node: kms.node }, silent);
    assert.equal(route.match("POST", "/v1/rpc/raft"), "/v1/rpc/raft");
    assert.equal(route.match("POST", "/v1/rpc/forward"), "/v1/rpc/forward");
    for (const [method, url] of [["GET", "/v1/rpc/raft"], ["POST", "/v1/rpc/raft?x=1"], ["POST", "/v1/rpc/ra%66t"], ["POST", "/v1/rpc/raft/"], ["POST", "/v1/kms"]]) {
      assert.equal(route.match(method, url), undefined, `${method} ${url}`);
    }
    assert.equal(route.maxBody, 256 << 20, "a snapshot fits, as the app's body limit allows");
    // The app still answers what the raw route leaves alone.
    assert.equal((await kms.app.request("/v1/rpc/raft?x=1", { method: "POST", body: new Uint8Array(4) }, {})).status, 403);
  });
});
