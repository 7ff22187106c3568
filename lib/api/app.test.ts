import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decode } from "../wire/proto.ts";
import { ADMIN, frame, frames, STRANGER, withKms } from "../../tests/support/app.ts";

const MAX_BODY = 8 << 20;

test("GET /version answers protojson by default, without an identity", async () => {
  await withKms(async (kms) => {
    for (const accept of [undefined, "application/json", "application/*"]) {
      const res = await kms.app.request("/version", { headers: accept ? { accept } : {} }, { identity: undefined });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await res.json(), { version: "test", commit: "", api_version: "v1", host: "h:1", fips140: false });
    }
  });
});

test("GET /version answers a protobuf VersionResponse to 'accept: application/octet-stream'", async () => {
  await withKms(async (kms) => {
    const res = await kms.app.request("/version", { headers: { accept: "application/octet-stream" } }, { identity: undefined });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const body = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(decode("VersionResponse", body), { version: "test", commit: "", api_version: "v1", host: "h:1", fips140: false });
  });
});

test("health: /v1/health/live and /v1/health/ready (also ?write) answer 200 to anyone", async () => {
  await withKms(async (kms) => {
    for (const path of ["/v1/health/live", "/v1/health/ready", "/v1/health/ready?write"]) {
      for (const identity of [undefined, STRANGER, ADMIN]) {
        const res = await kms.app.request(path, {}, { identity });
        assert.equal(res.status, 200, `${path} as ${identity}`);
        await res.arrayBuffer();
      }
    }
  });
});

test("unknown paths are 404; GET on the command endpoint is not served", async () => {
  await withKms(async (kms) => {
    const res = await kms.app.request("/v1/nothing", {}, { identity: ADMIN });
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    const get = await kms.app.request("/v1/kms/e1", {}, { identity: ADMIN });
    assert.notEqual(get.status, 200);
    await get.arrayBuffer();
  });
});

test("no identity: 403 'access denied: insufficient permissions' for every kind of command, nothing changes", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const denied = "access denied: insufficient permissions";
    const opts = { identity: null };
    await kms.fail(403, denied, "", 3, {}, opts);
    await kms.fail(403, denied, "", 101, { name: "e2" }, opts);
    await kms.fail(403, denied, "", 102, { name: "e1" }, opts);
    await kms.fail(403, denied, "", 104, {}, opts);
    await kms.fail(403, denied, "e1", 201, { name: "k2" }, opts);
    await kms.fail(403, denied, "e1", 202, { name: "k", all_versions: true }, opts);
    await kms.fail(403, denied, "e1", 207, { name: "k" }, opts);
    await kms.fail(403, denied, "e1", 208, {}, opts);
    // An empty-string identity is no identity either.
    await kms.fail(403, denied, "e1", 207, { name: "k" }, { identity: "" });
  });
});

test("a non-admin identity: 403 for cluster, enclave and key commands, nothing changes", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const denied = "access denied: insufficient permissions";
    for (const identity of [STRANGER, "h1:admin2", "H1:ADMIN", "h1:admin "]) {
      const opts = { identity };
      await kms.fail(403, denied, "", 3, {}, opts);
      await kms.fail(403, denied, "", 101, { name: "e2" }, opts);
      await kms.fail(403, denied, "", 102, { name: "e1" }, opts);
      await kms.fail(403, denied, "", 103, { name: "e1" }, opts);
      await kms.fail(403, denied, "e1", 201, { name: "k", add_version: true }, opts);
      await kms.fail(403, denied, "e1", 204, { name: "k" }, opts);
      await kms.fail(403, denied, "e1", 207, { name: "k" }, opts);
      await kms.fail(403, denied, "e1", 210, { name: "k", message: new Uint8Array([1]) }, opts);
    }
  });
});

test("403 comes before anything else: a stranger learns nothing about enclaves, keys or request validity", async () => {
  await withKms(async (kms) => {
    const denied = "access denied: insufficient permissions";
    const opts = { identity: STRANGER };
    await kms.fail(403, denied, "missing", 207, { name: "k" }, opts); // missing enclave
    await kms.fail(403, denied, "", 101, { name: "-bad-" }, opts); // invalid name
    await kms.expectError(403, denied, () => kms.post("/v1/kms/e1", new Uint8Array([1, 2, 3]), opts)); // bad framing
    await kms.expectError(403, denied, () => kms.send("e1", [{ id: 9999, payload: new Uint8Array() }], opts)); // unknown command
  });
});

test("pipelining: 1,000 GENERATE frames get 1,000 replies in order, each a fresh data key", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const n = 1000;
    const list = Array.from({ length: n }, (_, i) => frame(207, { name: "k", associated_data: new TextEncoder().encode(`ad-${i}`), length: 16 + (i % 17) }));
    const replies = await kms.batch("e1", list);
    assert.equal(replies.length, n);
    const seen = new Set<string>();
    replies.forEach((r, i) => {
      assert.equal(r.version, 1);
      assert.equal((r.plaintext as Uint8Array).length, 16 + (i % 17), `reply ${i} is the reply to frame ${i}`);
      seen.add(Buffer.from(r.plaintext as Uint8Array).toString("hex"));
    });
    assert.equal(seen.size, n, "every data key is fresh");
    // The replies stay paired with their frames: each decrypts only with its own associated data.
    for (const i of [0, 1, 500, 999]) {
      const out = await kms.call("e1", 206, { name: "k", ciphertext: replies[i].ciphertext, associated_data: new TextEncoder().encode(`ad-${i}`) });
      assert.deepEqual([...(out.plaintext as Uint8Array)], [...(replies[i].plaintext as Uint8Array)]);
    }
  });
});

test("pipelining mixes read commands; each reply answers its own frame", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "a" });
    await kms.call("e1", 201, { name: "b", type: "ChaCha20" });
    await kms.call("e1", 201, { name: "b", add_version: true });
    const replies = await kms.batch("e1", [
      frame(204, { name: "b" }),
      frame(103, { name: "e1" }),
      frame(207, { name: "a", length: 40 }),
      frame(204, { name: "a" }),
      frame(210, { name: "b", version: 1, message: new Uint8Array([1]) }),
      frame(208, {}),
      frame(3, {}),
      frame(204, { name: "b", version: 1 }),
    ]);
    assert.deepEqual([replies[0].name, replies[0].version], ["b", 2]);
    assert.equal(replies[1].name, "e1");
    assert.equal((replies[2].plaintext as Uint8Array).length, 40);
    assert.deepEqual([replies[3].name, replies[3].version, replies[3].type], ["a", 1, "AES256"]);
    assert.equal(replies[4].version, 1);
    assert.deepEqual((replies[5].keys as Array<{ name: string }>).map((k) => k.name), ["a", "b"]);
    assert.ok("0" in (replies[6].nodes_up as object));
    assert.deepEqual([replies[7].name, replies[7].version, replies[7].type], ["b", 1, "ChaCha20"]);
  });
});

test("a write in a batch is refused with 400 and nothing runs", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const msg = "invalid request: write commands cannot be pipelined";
    await kms.expectError(400, msg, () => kms.send("", [frame(101, { name: "e2" }), frame(101, { name: "e3" })]));
    await kms.expectError(400, msg, () => kms.send("e1", [frame(204, { name: "k" }), frame(201, { name: "k2" })]));
    await kms.expectError(400, msg, () => kms.send("e1", [frame(201, { name: "k", add_version: true }), frame(207, { name: "k" })]));
    await kms.expectError(400, msg, () => kms.send("e1", [frame(202, { name: "k", all_versions: true }), frame(202, { name: "k", all_versions: true })]));
  });
});

test("an unknown command id is 400, also the reserved KEY:LISTVERSIONS (209); nothing else in the batch runs", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    for (const id of [0, 7, 100, 105, 200, 209, 211, 9999, 65535]) {
      await kms.expectError(400, `invalid request: unknown command ${id}`, () => kms.send("e1", [{ id, payload: new Uint8Array() }]));
    }
    await kms.expectError(400, "invalid request: unknown command 9999", () => kms.send("", [frame(3, {}), { id: 9999, payload: new Uint8Array() }]));
  });
});

test("an invalid protobuf payload is 400 naming the message type", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    const garbage = new Uint8Array([0x0a, 0x05, 0x61]); // length beyond the end
    await kms.expectError(400, "invalid CreateEnclaveRequest message", () => kms.send("", [{ id: 101, payload: garbage }]));
    await kms.expectError(400, "invalid GenerateKeyRequest message", () => kms.send("e1", [{ id: 207, payload: new Uint8Array([0x0f]) }]));
  });
});

test("malformed framing is 400: empty body, truncated header, length beyond the body", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.expectError(400, /^invalid request: .*empty/, () => kms.post("/v1/kms/e1", new Uint8Array()));
    await kms.expectError(400, /^invalid request: .*truncated/, () => kms.post("/v1/kms/e1", new Uint8Array([0, 207, 0])));
    await kms.expectError(400, /^invalid request: .*exceeds/, () => kms.post("/v1/kms/e1", new Uint8Array([0, 103, 0, 0, 1, 0, 0x0a])));
    const good = frames([frame(103, { name: "e1" })]);
    await kms.expectError(400, /^invalid request: .*truncated/, () => kms.post("/v1/kms", Uint8Array.from([...good, 0])));
  });
});

test("request validation: bad names, key types, lengths and list fields are 400s that change nothing", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    await kms.fail(400, /^invalid request: invalid name/, "", 101, { name: "" });
    await kms.fail(400, /^invalid request: invalid name/, "", 101, { name: "a/b" });
    await kms.fail(400, /^invalid request: invalid name/, "", 101, { name: "x".repeat(81) });
    await kms.fail(400, /^invalid request: invalid name/, "", 102, { name: ".e1" });
    await kms.fail(400, /^invalid request: invalid name/, "e1", 201, { name: "-k" });
    await kms.fail(400, /^invalid request: invalid key type/, "e1", 201, { name: "k2", type: "DES" });
    await kms.fail(400, /^invalid request: invalid key type/, "e1", 201, { name: "k2", type: "aes256" });
    await kms.fail(400, /^invalid request: invalid key: must be 32 bytes/, "e1", 203, { name: "k2", key: new Uint8Array(31) });
    await kms.fail(400, /^invalid request: invalid key: must be 32 bytes/, "e1", 203, { name: "k2", key: new Uint8Array(33) });
    await kms.fail(400, /^invalid request: invalid key: must be 32 bytes/, "e1", 203, { name: "k2" });
    await kms.fail(400, /^invalid request: invalid length: at most 1024 bytes/, "e1", 207, { name: "k", length: 1025 });
    await kms.fail(400, /^invalid request: invalid prefix/, "e1", 208, { prefix: "p".repeat(81) });
    await kms.fail(400, /^invalid request: invalid continue_at/, "", 104, { continue_at: "c".repeat(81) });
  });
});

test("a body over 8 MiB is 413, announced by Content-Length or streamed; exactly 8 MiB is accepted", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const tooLarge = /^request body too large/;
    const big = new Uint8Array(MAX_BODY + 1);
    await kms.expectError(413, tooLarge, () => kms.post("/v1/kms/e1", big, { headers: { "content-length": String(big.length) } }));
    await kms.expectError(413, tooLarge, () => kms.post("/v1/kms/e1", big));
    await kms.expectError(413, tooLarge, () => kms.post("/v1/kms", big));
    // Exactly MAX_BODY: one ENCRYPT frame whose plaintext fills the rest.
    const header = frame(205, { name: "k", plaintext: new Uint8Array(0) });
    const fill = MAX_BODY - 6 - header.payload.length - 5; // 0x1a tag + 4-byte varint length
    const body = frames([frame(205, { name: "k", plaintext: new Uint8Array(fill) })]);
    assert.equal(body.length, MAX_BODY);
    const res = await kms.post("/v1/kms/e1", body);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});

test("errors in JSON when the client accepts only application/json; protobuf otherwise", async () => {
  await withKms(async (kms) => {
    const check = async (res: Response, status: number, message: string) => {
      assert.equal(res.status, status);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await res.json(), { message });
    };
    const json = { accept: "application/json" };
    await check(await kms.send("missing", [frame(204, { name: "k" })], json), 404, "enclave does not exist");
    await check(await kms.send("", [frame(101, { name: "e1" })], { ...json, identity: null }), 403, "access denied: insufficient permissions");
    await check(await kms.send("", [{ id: 9999, payload: new Uint8Array() }], json), 400, "invalid request: unknown command 9999");
    await check(await kms.post("/v1/kms/e1", new Uint8Array(MAX_BODY + 1), json), 413, `request body too large: at most ${MAX_BODY} bytes`);
    await kms.call("", 101, { name: "e1" });
    await check(await kms.send("", [frame(101, { name: "e1" })], json), 409, "enclave already exists");
    // Accepting both (or anything) keeps protobuf, as MinIO's client expects.
    for (const accept of ["application/*", "application/octet-stream", "application/json, application/octet-stream", "*/*"]) {
      const res = await kms.send("", [frame(101, { name: "e1" })], { accept });
      assert.equal(res.status, 409);
      assert.equal(res.headers.get("content-type"), "application/octet-stream", accept);
      assert.equal(decode("ErrResponse", new Uint8Array(await res.arrayBuffer())).message, "enclave already exists");
    }
  });
});

test("enclave-scoped commands need an existing enclave in the path: /v1/kms, /v1/kms/ and bad names are 404", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const missing = "enclave does not exist";
    await kms.fail(404, missing, "", 204, { name: "k" });
    await kms.expectError(404, missing, () => kms.post("/v1/kms/", frames([frame(204, { name: "k" })])));
    await kms.fail(404, missing, "e2", 204, { name: "k" });
    await kms.fail(404, missing, "e2", 201, { name: "k" });
    await kms.fail(404, missing, "E1", 207, { name: "k" });
    await kms.fail(404, missing, ".e1", 208, {});
    await kms.fail(404, missing, "e1%2Fx", 208, {});
    await kms.fail(404, missing, "-e1", 208, {});
    // A batch of reads in a missing enclave fails as a whole.
    await kms.expectError(404, missing, () => kms.send("e2", [frame(3, {}), frame(204, { name: "k" })]));
  });
});

test("cluster and enclave commands also work posted to /v1/kms/ and /v1/kms/<enclave>", async () => {
  await withKms(async (kms) => {
    const viaSlash = await kms.post("/v1/kms/", frames([frame(101, { name: "e1" })]));
    assert.equal(viaSlash.status, 200);
    await viaSlash.arrayBuffer();
    assert.ok(kms.node.state.enclaves.has("e1"));
    const status = await kms.call("e1", 3, {});
    assert.ok("0" in (status.nodes_up as object));
    await kms.assertDurable();
  });
});

test("a batch may hold 10,000 frames; 10,001 is 400 and nothing runs", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    const status = frame(204, { name: "k" });
    const replies = await kms.batch("e1", Array.from({ length: 10_000 }, () => status));
    assert.equal(replies.length, 10_000);
    assert.ok(replies.every((r) => r.name === "k" && r.version === 1));
    await kms.expectError(400, "invalid request: more than 10000 frames", () => kms.send("e1", Array.from({ length: 10_001 }, () => status)));
  });
});
