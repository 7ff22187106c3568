/**
 * Malformed requests over raw HTTPS (node:https with the admin's client
 * certificate): each gets a clear 4xx with a protobuf ErrResponse and an
 * exact content-length, the server keeps serving, and nothing changes.
 * Also: which endpoints answer without a client certificate.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import { encodeFrames } from "../../lib/wire/frames.ts";
import { decode, encode } from "../../lib/wire/proto.ts";
import type { KmsClient } from "../../lib/client/client.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { assertErrReply, assertServerHealthy, errMessage, framesOf, postNative, type RawReply, rawRequest, replyFrames } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const E = "bad";
let server: KmsServer;
let client: KmsClient;
let baseline: string;

/** Keys and enclaves as a comparable text. */
async function snapshot(): Promise<string> {
  const enclaves = (await client.listEnclaves()).enclaves as Array<{ name: string }>;
  const keys = (await client.listKeys(E)).keys as Array<{ name: string; version: number; type: string }>;
  return JSON.stringify({ enclaves: enclaves.map((e) => e.name), keys: keys.map((k) => [k.name, k.version, k.type]) });
}

/** After a bad request: the server still answers a KEY:STATUS, and nothing changed. */
async function stillServesUnchanged(what: string): Promise<void> {
  const reply = await postNative(server, E, framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "k" } }]));
  assert.equal(reply.status, 200, `${what}: KEY:STATUS after it answers 200, got ${reply.status} ${errMessage(reply)}`);
  assert.equal(decode("KeyStatusResponse", replyFrames(reply.body)[0].payload).name, "k");
  assert.equal(await snapshot(), baseline, `${what}: nothing changed`);
  assertServerHealthy(server);
}

const header = (id: number, length: number) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(id, 0);
  b.writeUInt32BE(length, 2);
  return b;
};
const create = (name: string) => framesOf([{ id: 201, request: "CreateKeyRequest", message: { name, type: "", add_version: false } }]);

describe("bad input over raw HTTP", () => {
  before(async () => {
    server = await startServer();
    client = server.client();
    await client.createEnclave(E);
    await client.createKey(E, "k");
    await client.createKey(E, "k2", "ChaCha20");
    baseline = await snapshot();
  });
  after(cleanup);

  describe("framing", () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["an empty body", new Uint8Array(), /empty/],
      ["a truncated frame header (3 bytes)", new Uint8Array([0, 204, 0]), /truncated frame header/],
      ["a truncated second frame header", Buffer.concat([header(204, 3), Buffer.from([0x0a, 0x01, 0x6b]), Buffer.from([0, 204])]), /truncated frame header/],
      ["a frame length beyond the body", Buffer.concat([header(204, 100), Buffer.alloc(10)]), /exceeds/],
      ["a frame length of 2^32-1", Buffer.concat([header(204, 0xffffffff), Buffer.alloc(4)]), /exceeds/],
      ["an unknown command id (999)", Buffer.concat([header(999, 0)]), /unknown command 999/],
      ["an unknown command id (0)", Buffer.concat([header(0, 0)]), /unknown command 0/],
      ["the reserved KEY:LISTVERSIONS id (209)", Buffer.concat([header(209, 0)]), /unknown command 209/],
      ["invalid protobuf for KEY:STATUS", Buffer.concat([header(204, 3), Buffer.from([0xff, 0xff, 0xff])]), /invalid KeyStatusRequest message/],
      ["a protobuf field with a truncated length", Buffer.concat([header(204, 2), Buffer.from([0x0a, 0x05])]), /invalid KeyStatusRequest message/],
      ["a field of the wrong wire type", Buffer.concat([header(204, 2), Buffer.from([0x08, 0x01])]), /invalid/],
      ["10,001 frames", Buffer.concat(Array.from({ length: 10_001 }, () => header(204, 0))), /more than 10000 frames/],
    ];
    for (const [what, body, message] of cases) {
      it(`${what} is 400 with an ErrResponse`, async () => {
        assertErrReply(await postNative(server, E, body), 400, message);
        await stillServesUnchanged(what);
      });
    }

    it("a good frame followed by garbage is refused as a whole", async () => {
      const good = framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "k" } }]);
      assertErrReply(await postNative(server, E, Buffer.concat([good, Buffer.from([1])])), 400, /truncated frame header/);
      await stillServesUnchanged("good + garbage");
    });

    it(`a body over the 8 MiB limit is 413`, async () => {
      const body = Buffer.concat([header(205, (8 << 20) + 100), Buffer.alloc((8 << 20) + 100)]);
      let reply: RawReply;
      try {
        reply = await postNative(server, E, body);
      } catch (err) {
        // The server may answer and close before reading everything; the reply must still have come.
        assert.fail(`no 413 reply to an oversized body: ${(err as Error).message}`);
      }
      assertErrReply(reply, 413, /too large/);
      await stillServesUnchanged("oversized body");
    });

    it("a chunked body (no content-length) over the 8 MiB limit is 413 too", async () => {
      const creds = clientCredentials(parseApiKey(server.apiKey));
      const reply = await new Promise<RawReply>((resolve, reject) => {
        const req = https.request({
          host: "127.0.0.1", port: server.port, method: "POST", path: `/v1/kms/${E}`, agent: false, ca: server.ca, ...creds,
          headers: { "content-type": "application/octet-stream" },
        }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on("error", reject);
        const chunk = Buffer.alloc(1 << 20);
        for (let i = 0; i < 9; i++) req.write(chunk);
        req.end();
      });
      assertErrReply(reply, 413, /too large/);
      await stillServesUnchanged("oversized chunked body");
    });

    it("exactly 10,000 frames are accepted, one reply each", async () => {
      const reply = await postNative(server, E, Buffer.concat(Array.from({ length: 10_000 }, () => framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "k2" } }]))));
      assert.equal(reply.status, 200, errMessage(reply));
      const frames = replyFrames(reply.body);
      assert.equal(frames.length, 10_000);
      assert.equal(decode("KeyStatusResponse", frames[9_999].payload).type, "ChaCha20");
    });

    it("a body of exactly 8 MiB is within the limit", async () => {
      // One ENCRYPT frame: 6 header bytes + name (3) + plaintext tag (1) + 4-byte varint length + plaintext.
      const plaintext = new Uint8Array((8 << 20) - 14).fill(0x5a);
      const payload = encode("EncryptRequest", { name: "k", plaintext });
      const body = Buffer.concat([header(205, payload.length), payload]);
      assert.equal(body.length, 8 << 20);
      const reply = await postNative(server, E, body);
      assert.equal(reply.status, 200, `8 MiB body: ${reply.status} ${errMessage(reply)}`);
      const r = decode("EncryptResponse", replyFrames(reply.body)[0].payload);
      assert.equal(r.version, 1);
      assert.ok((r.ciphertext as Uint8Array).length > plaintext.length, "a ciphertext of the whole plaintext");
      await stillServesUnchanged("8 MiB body");
    });
  });

  describe("invalid requests", () => {
    const badNames = ["../x", "", "x".repeat(81), "a/b", "/", ".hidden", "-dash", "sp ace", "nul\0byte", "ünïcode", "a\nb"];
    for (const name of badNames) {
      it(`the name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length} chars)` : name)} is refused for keys and enclaves`, async () => {
        assertErrReply(await postNative(server, E, create(name)), 400, /invalid name/);
        assertErrReply(await postNative(server, "", framesOf([{ id: 101, request: "CreateEnclaveRequest", message: { name } }])), 400, /invalid name/);
        const imp = framesOf([{ id: 203, request: "ImportKeyRequest", message: { name, type: "", key: randomBytes(32) } }]);
        assertErrReply(await postNative(server, E, imp), 400, /invalid name/);
        await stillServesUnchanged(`name ${JSON.stringify(name)}`);
      });
    }

    it("an 80-character name is fine (the limit is inclusive)", async () => {
      const name = "n".repeat(80);
      const reply = await postNative(server, E, framesOf([{ id: 204, request: "KeyStatusRequest", message: { name } }]));
      assertErrReply(reply, 404, "key does not exist");
    });

    it("a 16-byte import is 400", async () => {
      const body = framesOf([{ id: 203, request: "ImportKeyRequest", message: { name: "short", type: "", key: randomBytes(16) } }]);
      assertErrReply(await postNative(server, E, body), 400, /invalid key/);
      await stillServesUnchanged("16-byte import");
    });

    it("a GENERATE length over 1024 is 400", async () => {
      const body = framesOf([{ id: 207, request: "GenerateKeyRequest", message: { name: "k", length: 1025 } }]);
      assertErrReply(await postNative(server, E, body), 400, /at most 1024/);
      await stillServesUnchanged("length 1025");
    });

    it("an unknown key type is 400", async () => {
      const body = framesOf([{ id: 201, request: "CreateKeyRequest", message: { name: "rsa", type: "RSA" } }]);
      assertErrReply(await postNative(server, E, body), 400, /invalid key type/);
      await stillServesUnchanged("type RSA");
    });

    it("an unknown enclave in the path is 404 enclave does not exist", async () => {
      const body = framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "k" } }]);
      for (const p of ["/v1/kms/nope", "/v1/kms/..%2Fbad", "/v1/kms/a%2Fb", "/v1/kms/%2e", `/v1/kms/${"x".repeat(81)}`]) {
        assertErrReply(await postNative(server, E, body, { path: p }), 404, "enclave does not exist");
      }
      // Paths that normalise away from /v1/kms/<enclave> match no route: still a 404 with a message.
      for (const p of ["/v1/kms/%2E%2E", "/v1/kms/a/b"]) {
        const reply = await postNative(server, E, body, { path: p });
        assert.equal(reply.status, 404, p);
        const message = reply.headers["content-type"] === "application/octet-stream" ? errMessage(reply) : JSON.parse(reply.body.toString()).message;
        assert.ok(message, `${p}: the 404 says why`);
      }
      // Key commands without an enclave in the path have none to act in.
      assertErrReply(await postNative(server, "", body), 404, "enclave does not exist");
      await stillServesUnchanged("unknown enclave");
    });

    it("a write to an unknown enclave is 404 and creates nothing", async () => {
      assertErrReply(await postNative(server, "ghost", create("k")), 404, "enclave does not exist");
      await stillServesUnchanged("write to unknown enclave");
    });

    it("an error is JSON {message} when the client accepts only JSON", async () => {
      const reply = await postNative(server, E, framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "nope" } }]), {
        headers: { accept: "application/json" },
      });
      assert.equal(reply.status, 404);
      assert.match(String(reply.headers["content-type"]), /^application\/json/);
      assert.deepEqual(JSON.parse(reply.body.toString()), { message: "key does not exist" });
    });

    it("unknown paths and methods are 4xx, not 5xx", async () => {
      for (const [method, p] of [["GET", "/v1/kms"], ["PUT", "/v1/kms/bad"], ["GET", "/nope"], ["DELETE", "/v1/kms/bad"]]) {
        const reply = await rawRequest(server, { method, path: p });
        assert.ok(reply.status >= 400 && reply.status < 500, `${method} ${p}: got ${reply.status}`);
      }
      await stillServesUnchanged("unknown paths");
    });
  });

  describe("replies", () => {
    it("200 replies carry content-length and are never chunked", async () => {
      const reply = await postNative(server, E, framesOf([
        { id: 208, request: "ListRequest", message: {} },
        { id: 207, request: "GenerateKeyRequest", message: { name: "k" } },
      ]));
      assert.equal(reply.status, 200);
      assert.equal(reply.headers["content-length"], String(reply.body.length));
      assert.equal(reply.headers["transfer-encoding"], undefined);
      assert.deepEqual(replyFrames(reply.body).map((f) => f.id), [208, 207]);
    });

    it("a write replies with one empty frame of its id", async () => {
      const reply = await postNative(server, E, create("written"));
      assert.equal(reply.status, 200);
      assert.equal(reply.headers["content-length"], String(reply.body.length));
      const frames = replyFrames(reply.body);
      assert.equal(frames.length, 1);
      assert.equal(frames[0].id, 201);
      // Not part of the baseline: remove it again.
      const del = await postNative(server, E, framesOf([{ id: 202, request: "DeleteKeyRequest", message: { name: "written", all_versions: true } }]));
      assert.equal(del.status, 200);
      await stillServesUnchanged("write and delete");
    });

    it("an empty list is one frame", async () => {
      const reply = await postNative(server, E, framesOf([{ id: 208, request: "ListRequest", message: { prefix: "zzz" } }]));
      const frames = replyFrames(reply.body);
      assert.equal(frames.length, 1);
      assert.deepEqual(decode("ListKeysResponse", frames[0].payload).keys, []);
    });
  });

  describe("without a client certificate", () => {
    it("/version, /v1/health/live and /v1/health/ready answer", async () => {
      const version = await rawRequest(server, { path: "/version", apiKey: null });
      assert.equal(version.status, 200);
      const v = JSON.parse(version.body.toString());
      assert.match(v.version, /^\d+\.\d+\.\d+/);
      assert.equal(v.api_version, "v1");
      assert.equal(typeof v.fips140, "boolean");
      for (const p of ["/v1/health/live", "/v1/health/ready", "/v1/health/ready?write"]) {
        const r = await rawRequest(server, { path: p, apiKey: null });
        assert.equal(r.status, 200, p);
      }
    });

    it("/version answers protobuf to a client that asks for it", async () => {
      const r = await rawRequest(server, { path: "/version", apiKey: null, headers: { accept: "application/octet-stream" } });
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-type"], "application/octet-stream");
      const v = decode("VersionResponse", new Uint8Array(r.body));
      assert.equal(v.api_version, "v1");
      assert.match(String(v.version), /^\d+\.\d+\.\d+/);
    });

    it("POST /v1/kms without a certificate is 403 access denied, and parses nothing", async () => {
      const reads = framesOf([{ id: 104, request: "ListRequest", message: {} }]);
      assertErrReply(await postNative(server, "", reads, { apiKey: null }), 403, "access denied: insufficient permissions");
      assertErrReply(await postNative(server, E, create("anon"), { apiKey: null }), 403, "access denied: insufficient permissions");
      // Even garbage: a stranger learns nothing from the parser.
      assertErrReply(await postNative(server, E, new Uint8Array([1, 2, 3]), { apiKey: null }), 403, "access denied: insufficient permissions");
      await stillServesUnchanged("anonymous requests");
    });
  });

  it("pipelined frames of raw encodings are accepted (sanity check of the framing used above)", async () => {
    const body = encodeFrames([
      { id: 204, payload: encode("KeyStatusRequest", { name: "k" }) },
      { id: 204, payload: encode("KeyStatusRequest", { name: "k2" }) },
    ]);
    const reply = await postNative(server, E, body);
    assert.equal(reply.status, 200);
    assert.deepEqual(replyFrames(reply.body).map((f) => decode("KeyStatusResponse", f.payload).type), ["AES256", "ChaCha20"]);
    assert.deepEqual([...encode("KeyStatusRequest", { name: "k" })], [0x0a, 0x01, 0x6b]);
  });

  it("the server survived every request and logged no internal error", () => {
    assertServerHealthy(server);
  });
});
