/**
 * The server serves POST /v1/kms[/enclave] through a raw route (no web
 * Request per call); the app's hono route stays for in-process use and for
 * paths the raw route leaves alone. Both must answer byte for byte alike:
 * status, Content-Type, Content-Length and body.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRawRoute } from "../app.ts";
import { MAX_BODY } from "./route.ts";
import { replyBytes } from "../../net/serve.ts";
import { ADMIN, frame, frames, STRANGER, type TestKms, withKms } from "../../../tests/support/app.ts";

interface Case {
  readonly name: string;
  readonly path: string;
  readonly body: Uint8Array<ArrayBuffer>;
  readonly identity?: string;
  readonly accept?: string;
}

const enclaveStatus = frames([frame(103, { name: "e1" })]);
const keyStatus = frames([frame(204, { name: "k1" })]);

const CASES: Case[] = [
  { name: "enclave status, no enclave in the path", path: "/v1/kms", body: enclaveStatus },
  { name: "enclave status, trailing slash", path: "/v1/kms/", body: enclaveStatus },
  { name: "key status in an enclave", path: "/v1/kms/e1", body: keyStatus },
  { name: "key status, trailing slash", path: "/v1/kms/e1/", body: keyStatus },
  { name: "pipelined reads", path: "/v1/kms/e1", body: frames([frame(204, { name: "k1" }), frame(208, { prefix: "", continue_at: "", limit: 10 })]) },
  { name: "a missing key", path: "/v1/kms/e1", body: frames([frame(204, { name: "nope" })]) },
  { name: "a missing enclave", path: "/v1/kms/nope", body: keyStatus },
  { name: "a stranger", path: "/v1/kms/e1", body: keyStatus, identity: STRANGER },
  { name: "a stranger asking for JSON", path: "/v1/kms/e1", body: keyStatus, identity: STRANGER, accept: "application/json" },
  { name: "an empty body", path: "/v1/kms/e1", body: new Uint8Array(0) },
  { name: "a truncated frame", path: "/v1/kms/e1", body: new Uint8Array([0, 204, 0]) },
  { name: "an unknown command", path: "/v1/kms/e1", body: frames([{ id: 999, payload: new Uint8Array(0) }]) },
  { name: "pipelined writes", path: "/v1/kms/e1", body: frames([frame(201, { name: "a" }), frame(201, { name: "b" })]) },
  { name: "an invalid key name", path: "/v1/kms/e1", body: frames([frame(204, { name: "-bad" })]) },
];

/** The app's answer as the server sends it: status, type, length and body. */
async function viaApp(kms: TestKms, c: Case) {
  const res = await kms.post(c.path, c.body, { identity: c.identity ?? ADMIN, accept: c.accept });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get("content-type"), length: String(body.length), body };
}

/** The raw route's answer to the same request. */
async function viaRaw(kms: TestKms, c: Case) {
  const route = createRawRoute({ node: kms.node });
  const enclave = route.match("POST", c.path);
  assert.notEqual(enclave, undefined, `${c.path} is the raw route's`);
  const headers = { "content-type": "application/octet-stream", accept: c.accept ?? "application/*", "content-length": String(c.body.length) };
  const exchange = route.begin(enclave!, { method: "POST", path: c.path, headers, peer: { identity: c.identity ?? ADMIN, certificate: undefined }, ip: "127.0.0.1" });
  const reply = exchange.end(await exchange.handle(() => Promise.resolve(c.body)));
  assert.match(reply.headers["x-request-id"] ?? "", /^[0-9a-f]{8}-[0-9a-z]+$/, "a request id, as the app's replies carry");
  assert.equal(reply.headers["content-length"], String(replyBytes(reply.body).length), "an exact Content-Length");
  return { status: reply.status, type: reply.headers["content-type"], length: reply.headers["content-length"], body: new Uint8Array(replyBytes(reply.body)) };
}

test("the raw route answers every request exactly as the app's route does", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k1" });
    for (const c of CASES) assert.deepEqual(await viaRaw(kms, c), await viaApp(kms, c), c.name);
    // Too large: answered without reading the body, in the protocol's format.
    const route = createRawRoute({ node: kms.node });
    const big = await kms.post("/v1/kms/e1", new Uint8Array(MAX_BODY + 1));
    const tooLarge = route.begin("e1", { method: "POST", path: "/v1/kms/e1", headers: { accept: "application/*" }, peer: { identity: ADMIN, certificate: undefined }, ip: undefined }).tooLarge();
    assert.deepEqual([tooLarge.status, tooLarge.headers["content-type"], new Uint8Array(replyBytes(tooLarge.body))], [big.status, big.headers.get("content-type"), new Uint8Array(await big.arrayBuffer())]);
  });
});

test("the raw route takes only POSTs to paths with nothing to decode; the app serves the rest", async () => {
  await withKms(async (kms) => {
    const route = createRawRoute({ node: kms.node });
    assert.equal(route.match("POST", "/v1/kms"), "");
    assert.equal(route.match("POST", "/v1/kms/"), "");
    assert.equal(route.match("POST", "/v1/kms/e_1.x-y"), "e_1.x-y");
    assert.equal(route.match("POST", "/v1/kms/e1/"), "e1");
    for (const url of ["/v1/kms/a%20b", "/v1/kms/e1?x=1", "/v1/kms//", "/v1/kms/..", "/v1/kms/.e", "/v1/kms/e1/keys", "/v1/kmsx", "/v1/kms/e1//"]) {
      assert.equal(route.match("POST", url), undefined, url);
    }
    for (const method of ["GET", "PUT", "HEAD", "DELETE"]) assert.equal(route.match(method, "/v1/kms/e1"), undefined, method);
  });
});
