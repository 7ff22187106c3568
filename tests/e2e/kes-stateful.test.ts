/**
 * The KES JSON API on the stateful server: real server processes, client
 * certificates made here. KES requests run in the enclave named by
 * --kes-enclave and are authorised like the native API (identities are the
 * same hash, policies name native commands).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { b64, cleanup, clientIdOf, kes, type KesClientId, type KesTarget, MINIO_CONTEXT, minioSequence, newClientId, unb64 } from "../helpers/kes.ts";
import { kesAesEncrypt, kesChaChaEncrypt } from "../helpers/kes-format.ts";
import { type KmsServer, runKms, startServer } from "../helpers/kms.ts";

const ENCLAVE = "tenant-1";
const minio = newClientId();
const tenantAdmin = newClientId();
const other = newClientId();
const stranger = newClientId();
let server: KmsServer;
let target: KesTarget;

describe("KES API on the stateful server", () => {
  let adminClient: KesClientId;
  before(async () => {
    server = await startServer({ extraArgs: ["--kes-enclave", ENCLAVE] });
    target = { port: server.port, ca: server.ca };
    const c = server.client();
    await c.createEnclave(ENCLAVE);
    await c.createEnclave("other");
    await c.createPolicy(ENCLAVE, "minio", { "KEY:CREATE": ["minio-*"], "KEY:GENERATE": ["minio-*"], "KEY:DECRYPT": ["minio-*"], "KEY:LIST": ["minio-*"] }, { "KEY:GENERATE": ["minio-forbidden"] });
    await c.createIdentity(ENCLAVE, minio.h1, "User");
    await c.assignPolicy(ENCLAVE, "minio", minio.h1);
    await c.createIdentity(ENCLAVE, tenantAdmin.h1, "Admin");
    await c.createIdentity("other", other.h1, "Admin");
    // The HSM admin, as a KES client: its k1 key's certificate.
    adminClient = clientIdOf(server.apiKey);
  });
  after(cleanup);

  it("answers MinIO's KES call sequence for an identity with a policy", async () => {
    await minioSequence(target, minio, "minio-key", assert);
  });

  it("authorises like the native API: policy allow and deny, listing filtered, strangers refused", async () => {
    assert.equal((await kes(target, "POST", "/v1/key/create/minio-forbidden", { client: minio })).status, 200);
    const denied = await kes(target, "POST", "/v1/key/generate/minio-forbidden", { client: minio, body: {} });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json, { message: "not authorized: insufficient permissions" });
    assert.equal((await kes(target, "POST", "/v1/key/create/app-key", { client: minio })).status, 403);
    assert.equal((await kes(target, "DELETE", "/v1/key/delete/minio-key", { client: minio })).status, 403);
    assert.equal((await kes(target, "POST", "/v1/key/encrypt/minio-key", { client: minio, body: { plaintext: b64("x") } })).status, 403);

    // The enclave's Admin may do everything in it.
    assert.equal((await kes(target, "POST", "/v1/key/create/app-key", { client: tenantAdmin })).status, 200);
    assert.deepEqual((await kes(target, "GET", "/v1/key/list/*", { client: tenantAdmin })).json.names, ["app-key", "minio-forbidden", "minio-key"]);
    // A listing shows a User only the names its policy covers.
    assert.deepEqual((await kes(target, "GET", "/v1/key/list/*", { client: minio })).json.names, ["minio-forbidden", "minio-key"]);

    // An Admin of another enclave and a stranger are strangers here.
    for (const who of [other, stranger, null]) {
      const r = await kes(target, "POST", "/v1/key/generate/minio-key", { client: who, body: {} });
      assert.equal(r.status, 403);
      assert.equal((await kes(target, "GET", "/v1/status", { client: who })).status, 403);
    }
    assert.equal((await kes(target, "GET", "/v1/status", { client: minio })).status, 200);
  });

  it("shares keys with the native API: a DEK from KES opens natively with the context as associated data", async () => {
    const dek = await kes(target, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: MINIO_CONTEXT } });
    const native = await server.client().decrypt(ENCLAVE, "minio-key", unb64(dek.json.ciphertext), unb64(MINIO_CONTEXT));
    assert.deepEqual(native.plaintext, unb64(dek.json.plaintext));
    const k = await kes(target, "GET", "/v1/key/describe/minio-key", { client: adminClient });
    assert.equal(k.json.created_by, minio.hex, "created_by is the KES hex form of the creator");
    assert.equal(k.json.algorithm, "AES256");
  });

  it("decrypts ciphertexts KES made under keys imported through the KES API", async () => {
    for (const [cipher, enc] of [["AES256", kesAesEncrypt], ["ChaCha20", kesChaChaEncrypt]] as const) {
      const key = new Uint8Array(randomBytes(32));
      const name = `imported-${cipher.toLowerCase()}`;
      assert.equal((await kes(target, "POST", `/v1/key/import/${name}`, { client: tenantAdmin, body: { key: b64(key), cipher } })).status, 200);
      const ct = enc(key, new TextEncoder().encode(`made by KES (${cipher})`), unb64(MINIO_CONTEXT));
      const d = await kes(target, "POST", `/v1/key/decrypt/${name}`, { client: tenantAdmin, body: { ciphertext: b64(ct), context: MINIO_CONTEXT } });
      assert.equal(d.status, 200, d.text);
      assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), `made by KES (${cipher})`);
      assert.equal((await kes(target, "GET", `/v1/key/describe/${name}`, { client: tenantAdmin })).json.algorithm, cipher);
    }
  });

  it("HMACs, deletes, and reports errors in KES's format", async () => {
    const h = await kes(target, "POST", "/v1/key/hmac/app-key", { client: tenantAdmin, body: { message: b64("msg") } });
    assert.equal(h.status, 200);
    assert.equal(unb64(h.json.hmac).length, 32);
    assert.equal((await kes(target, "DELETE", "/v1/key/delete/app-key", { client: tenantAdmin })).status, 200);
    assert.deepEqual((await kes(target, "GET", "/v1/key/describe/app-key", { client: tenantAdmin })).json, { message: "key does not exist" });
    assert.equal((await kes(target, "POST", "/v1/key/generate/minio-key", { client: minio, body: "{" })).status, 400);
    assert.equal((await kes(target, "POST", "/v1/key/generate/bad.name", { client: minio, body: {} })).status, 400);
    const r = await kes(target, "GET", "/v1/key/generate/minio-key", { client: minio });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "PUT, POST");
    assert.equal((await kes(target, "POST", "/v1/key/encrypt/minio-key", { client: adminClient, body: { plaintext: b64(new Uint8Array(1 << 20)) } })).status, 413);
  });

  it("accepts kes:v1: API keys in the CLI, with the same identity as the certificate", async () => {
    const env = { ...server.env(), MINIO_KMS_API_KEY: tenantAdmin.kesApiKey, MINIO_KMS_ENCLAVE: ENCLAVE };
    const id = await runKms(["identity", "--json"], env);
    assert.equal(id.code, 0, id.stderr);
    assert.equal(JSON.parse(id.stdout).identity, tenantAdmin.h1);
    const stat = await runKms(["stat-key", "--json", "minio-key"], env);
    assert.equal(stat.code, 0, stat.stderr);
    assert.equal(JSON.parse(stat.stdout).name, "minio-key");
  });
});

describe("KES API without its enclave", () => {
  before(async () => {
    server = await startServer();
  });
  after(cleanup);

  it("uses the enclave 'default' and says when it does not exist", async () => {
    const admin = clientIdOf(server.apiKey);
    const t = { port: server.port, ca: server.ca };
    const r = await kes(t, "POST", "/v1/key/create/minio-key", { client: admin });
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { message: "enclave does not exist" });
    await server.client().createEnclave("default");
    assert.equal((await kes(t, "POST", "/v1/key/create/minio-key", { client: admin })).status, 200);
    assert.equal((await server.client().keyStatus("default", "minio-key")).name, "minio-key");
  });
});
