/**
 * `kms edge` in front of another kms cluster (the kms key store, a real
 * server process), and the offline window: stop the store, crypto keeps
 * working from the cache, creates/imports/deletes/lists fail with 502 and
 * /v1/ready with 504, the window ends after cache.expiry.offline, and when
 * the store comes back everything recovers.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  b64, cleanup, edgeConfigHead, type EdgeProcess, freePort, HEALTH_CONTEXT, kes, MINIO_CONTEXT, minioSequence, newClientId, startEdge, tempDir, unb64, waitFor, writeServerTls,
} from "../helpers/kes.ts";
import { type KmsServer, startServer } from "../helpers/kms.ts";

const admin = newClientId();
const minio = newClientId();
let store: KmsServer;
let storePort: number;
let edge: EdgeProcess;
let configFile: string;
let dir: string;

function config(offline: string): string {
  return `${edgeConfigHead(dir, admin.hex)}policy:
  minio:
    allow: ["/v1/key/create/minio-*", "/v1/key/generate/minio-*", "/v1/key/decrypt/minio-*", "/v1/status"]
    identities: ["${minio.hex}"]
cache:
  expiry:
    any: 5m
    unused: 5m
    offline: ${offline}
  probe: 100ms
keystore:
  kms:
    endpoint: 127.0.0.1:${storePort}
    enclave: edge
    api_key: \${STORE_API_KEY}
    tls:
      ca: ${store.caFile}
`;
}

const status = async () => (await kes(edge, "GET", "/v1/status", { client: admin })).json;

describe("kms edge in front of a kms cluster, and the offline window", () => {
  before(async () => {
    dir = tempDir("kms-edge-offline-");
    storePort = await freePort();
    store = await startServer({ extraArgs: ["--addr", `127.0.0.1:${storePort}`] });
    await store.client().createEnclave("edge");
    const { cert } = writeServerTls(dir);
    configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, config("1m"));
    edge = await startEdge({ configFile, ca: cert, env: { STORE_API_KEY: store.apiKey } });
  });
  after(cleanup);

  it("answers MinIO's calls with keys held by the cluster (master keys never leave it)", async () => {
    await minioSequence(edge, minio, "minio-key", assert);
    const k = await store.client().keyStatus("edge", "minio-key");
    assert.equal(k.name, "minio-key");
  });

  it("keeps serving crypto from the cache while the store is down; writes fail with 502", async () => {
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: MINIO_CONTEXT } });
    assert.equal(dek.status, 200);
    assert.equal((await kes(edge, "POST", "/v1/key/hmac/minio-key", { client: admin, body: { message: b64("m") } })).status, 200);
    assert.equal((await kes(edge, "GET", "/v1/key/describe/minio-key", { client: admin })).status, 200);

    assert.equal(await store.stop(), 0);
    await waitFor(async () => (await status()).keystore_unreachable === true, "the probe to notice the store is down");
    assert.equal((await kes(edge, "GET", "/v1/ready", { client: null })).status, 504);
    assert.deepEqual((await kes(edge, "GET", "/v1/ready", { client: null })).json, { message: "key store is not reachable" });

    // Crypto from the cache.
    const opened = await kes(edge, "POST", "/v1/key/decrypt/minio-key", { client: minio, body: { ciphertext: dek.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(opened.status, 200, opened.text);
    assert.equal(opened.json.plaintext, dek.json.plaintext);
    assert.equal((await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: HEALTH_CONTEXT } })).status, 200);
    assert.equal((await kes(edge, "POST", "/v1/key/encrypt/minio-key", { client: admin, body: { plaintext: b64("x") } })).status, 200);
    assert.equal((await kes(edge, "POST", "/v1/key/hmac/minio-key", { client: admin, body: { message: b64("m") } })).status, 200);
    assert.equal((await kes(edge, "GET", "/v1/key/describe/minio-key", { client: admin })).status, 200);

    // Writes and listings need the store.
    for (const [method, p, body] of [
      ["POST", "/v1/key/create/minio-new", undefined],
      ["POST", "/v1/key/import/minio-imported", { key: b64(new Uint8Array(32).fill(7)), cipher: "AES256" }],
      ["DELETE", "/v1/key/delete/minio-key", undefined],
      ["GET", "/v1/key/list/*", undefined],
      ["POST", "/v1/key/generate/minio-never-cached", { context: "" }],
    ] as const) {
      const r = await kes(edge, method, p, { client: admin, body });
      assert.equal(r.status, 502, `${method} ${p}: ${r.text}`);
      assert.deepEqual(r.json, { message: "key store is not reachable" });
    }
    // Policies still apply while offline.
    assert.equal((await kes(edge, "POST", "/v1/key/create/other", { client: minio })).status, 403);
  });

  it("stops serving cached keys when the offline window ends", async () => {
    writeFileSync(configFile, config("200ms"));
    assert.match(await edge.reload(), /^reloaded/);
    await waitFor(async () => (await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: "" } })).status === 502,
      "generate to fail once the offline window is over");
  });

  it("recovers when the store is back", async () => {
    store = await startServer({ dir: store.dir, hsmKey: store.hsmKey, extraArgs: ["--addr", `127.0.0.1:${storePort}`] });
    await waitFor(async () => (await status()).keystore_unreachable === false, "the probe to see the store again");
    assert.equal((await kes(edge, "GET", "/v1/ready", { client: null })).status, 200);
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: MINIO_CONTEXT } });
    assert.equal(dek.status, 200, dek.text);
    assert.equal((await kes(edge, "POST", "/v1/key/create/minio-new", { client: minio })).status, 200);
    const list = await kes(edge, "GET", "/v1/key/list/*", { client: admin });
    assert.deepEqual(list.json.names, ["minio-key", "minio-new"]);
    const opened = await kes(edge, "POST", "/v1/key/decrypt/minio-key", { client: minio, body: { ciphertext: dek.json.ciphertext, context: MINIO_CONTEXT } });
    assert.deepEqual(unb64(opened.json.plaintext), unb64(dek.json.plaintext));
    assert.match(edge.output(), /key store is not reachable/);
    assert.match(edge.output(), /key store is reachable again/);
  });
});
