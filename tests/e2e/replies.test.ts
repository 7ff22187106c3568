/**
 * Every reply of every route of the native protocol and the plain endpoints,
 * errors included, as MinIO's KMS client reads it: an exact Content-Length
 * (no chunked encoding: the client refuses "request content length is
 * negative") and the documented Content-Type (reference/minio-kms-protocol.md).
 * Run twice: with one serving thread and with `--threads 2` (every request
 * opens a fresh connection, which the kernel gives to either thread: replies a
 * thread serves itself and those it hands to the main thread must read alike).
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { decode } from "../../lib/wire/proto.ts";
import { framesOf, postNative, type RawReply, rawRequest, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

/** Asserts the framing MinIO's client needs and the Content-Type; returns the body. */
function exact(r: RawReply, status: number, contentType: string | undefined, what: string): Buffer {
  assert.equal(r.status, status, `${what}: status (${r.body.toString().slice(0, 200)})`);
  assert.equal(r.headers["transfer-encoding"], undefined, `${what}: not chunked`);
  assert.equal(r.headers["content-length"], String(r.body.length), `${what}: exact Content-Length`);
  if (contentType) assert.match(String(r.headers["content-type"]), new RegExp(`^${contentType.replace("/", "\\/")}`), `${what}: Content-Type`);
  return r.body;
}

const json = (b: Buffer) => JSON.parse(b.toString());

for (const threads of [1, 2]) {
  describe(`exact replies on every route${threads > 1 ? `, ${threads} serving threads` : ""}`, () => replies(threads));
}

function replies(threads: number): void {
  let server: KmsServer;
  before(async () => {
    server = await startServer({ extraArgs: threads > 1 ? ["--threads", String(threads)] : [] });
    const c = server.client();
    await c.createEnclave("replies");
    await c.createKey("replies", "k1");
  });
  after(cleanup);

  it("GET /version: protojson and protobuf, with and without a client certificate", async () => {
    for (const apiKey of [undefined, null]) {
      const j = json(exact(await rawRequest(server, { path: "/version", apiKey }), 200, "application/json", "/version json"));
      assert.deepEqual(Object.keys(j).sort(), ["api_version", "commit", "fips140", "host", "version"]);
      const pb = exact(await rawRequest(server, { path: "/version", apiKey, headers: { accept: "application/octet-stream" } }), 200, "application/octet-stream", "/version protobuf");
      assert.equal(decode("VersionResponse", new Uint8Array(pb)).version, j.version);
    }
  });

  it("GET /v1/health/live and /v1/health/ready[?write]: empty 200s with Content-Length 0", async () => {
    for (const p of ["/v1/health/live", "/v1/health/ready", "/v1/health/ready?write"]) {
      assert.equal(exact(await rawRequest(server, { path: p, apiKey: null }), 200, undefined, p).length, 0);
    }
  });

  it("POST /v1/kms[/enclave]: frames, and errors as protobuf or JSON as the client asks", async () => {
    const status = framesOf([{ id: 3, request: "ClusterStatusRequest", message: {} }]);
    exact(await postNative(server, "", status), 200, "application/octet-stream", "CLUSTER:STATUS");
    exact(await postNative(server, "", status, { path: "/v1/kms/" }), 200, "application/octet-stream", "CLUSTER:STATUS on /v1/kms/");
    const list = framesOf([{ id: 208, request: "ListRequest", message: {} }]);
    exact(await postNative(server, "replies", list), 200, "application/octet-stream", "KEY:LIST");
    const missing = framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "nope" } }]);
    const pb = exact(await postNative(server, "replies", missing), 404, "application/octet-stream", "404 protobuf");
    assert.equal(decode("ErrResponse", new Uint8Array(pb)).message, "key does not exist");
    const j = exact(await postNative(server, "replies", missing, { headers: { accept: "application/json" } }), 404, "application/json", "404 JSON");
    assert.deepEqual(json(j), { message: "key does not exist" });
    for (const accept of ["application/*", "application/json"]) {
      const ct = accept === "application/json" ? "application/json" : "application/octet-stream";
      exact(await postNative(server, "replies", list, { apiKey: null, headers: { accept } }), 403, ct, `403 stranger (${accept})`);
      exact(await postNative(server, "replies", new Uint8Array([1, 2, 3]), { headers: { accept } }), 400, ct, `400 bad frames (${accept})`);
      exact(await postNative(server, "replies", new Uint8Array(9 << 20), { headers: { accept } }), 413, ct, `413 (${accept})`);
      exact(await rawRequest(server, { method: "GET", path: "/v1/kms/replies", headers: { accept } }), 404, ct, `wrong method (${accept})`);
    }
  });

  it("node RPC, unknown paths and KES routes answer JSON with an exact length", async () => {
    exact(await rawRequest(server, { method: "POST", path: "/v1/rpc/raft", body: new Uint8Array(4) }), 403, "application/json", "RPC from a client");
    assert.deepEqual(json(exact(await rawRequest(server, { path: "/no/such/route" }), 404, "application/json", "unknown path")), { message: "not found" });
    exact(await rawRequest(server, { path: "/v1/api", apiKey: null }), 200, "application/json", "KES /v1/api");
    exact(await rawRequest(server, { path: "/v1/key/list" }), 404, "application/json", "KES list outside the KES enclave");
  });

  it("TLS offers AEAD suites only: ECDHE with AES-GCM or ChaCha20-Poly1305 on TLS 1.2, and TLS 1.3", async () => {
    const handshake = (opts: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({ host: "127.0.0.1", port: server.port, ca: server.ca, servername: "localhost", ...opts }, () => {
          resolve(`${s.getProtocol()} ${s.getCipher().name}`);
          s.destroy();
        });
        s.on("error", () => resolve("refused"));
      });
    for (const cbc of ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"]) {
      assert.equal(await handshake({ ciphers: cbc, maxVersion: "TLSv1.2" }), "refused", cbc);
    }
    for (const aead of ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"]) {
      assert.equal(await handshake({ ciphers: aead, maxVersion: "TLSv1.2" }), `TLSv1.2 ${aead}`, aead);
    }
    assert.match(await handshake({ minVersion: "TLSv1.3" }), /^TLSv1\.3 TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
  });

  it("a malformed request (bad chunked encoding) is a 400 in JSON with an exact length, logged as a client error", async () => {
    // With threads, on several connections: each lands on either thread (all on one: 1 in 2^11).
    for (let i = 0; i < (threads > 1 ? 12 : 1); i++) await malformed(server);
  });
}

/** One request whose chunked body is malformed: a 400 in JSON with an exact length, logged as a client error. */
async function malformed(server: KmsServer): Promise<void> {
  const logged = () => server.output().match(/client error on POST \/v1\/kms\/replies/g)?.length ?? 0;
  const before = logged();
  const raw = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port: server.port, ca: server.ca, servername: "localhost" }, () => {
      // The header first, so the handler is already reading the body when the bad chunk arrives.
      s.write("POST /v1/kms/replies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      setTimeout(() => s.write("zz\r\nabc\r\n0\r\n\r\n"), 100);
    });
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
  const [head, body] = raw.split("\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 400 /);
  assert.match(head, /\r\ncontent-type: application\/json/i);
  assert.equal(/\r\ncontent-length: (\d+)/i.exec(head)?.[1], String(Buffer.byteLength(body)));
  assert.match(JSON.parse(body).message, /malformed/);
  await waitUntil(() => logged() > before, "the client error to be logged");
  assert.doesNotMatch(server.output(), /internal error/);
}
