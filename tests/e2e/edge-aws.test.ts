/**
 * `kms edge` with the aws.secretsmanager key store against moto_server (a
 * local AWS emulator; no real AWS): keys land in Secrets Manager in KES's
 * format, and MinIO's calls work through the SDK-backed store.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient, CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import {
  b64, cleanup, type EdgeProcess, kes, MINIO_CONTEXT, minioSequence, type Moto, newClientId, startEdge, startMoto, tempDir, unb64, writeServerTls,
} from "../helpers/kes.ts";
import { kesAesEncrypt, kesStoredKey } from "../helpers/kes-format.ts";

const admin = newClientId();
const minio = newClientId();
let moto: Moto;
let edge: EdgeProcess;
let sm: SecretsManagerClient;

describe("kms edge with aws.secretsmanager (moto_server)", () => {
  before(async () => {
    moto = await startMoto();
    const dir = tempDir("kms-edge-aws-");
    const { cert } = writeServerTls(dir);
    const configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, `address: 127.0.0.1:7373
admin:
  identity: ${admin.hex}
tls:
  key: server.key
  cert: server.crt
policy:
  minio:
    allow:
    - /v1/key/create/minio-*
    - /v1/key/generate/minio-*
    - /v1/key/decrypt/minio-*
    - /v1/key/list/*
    - /v1/status
    identities:
    - ${minio.hex}
cache:
  expiry:
    any: 5m
    unused: 30s
keystore:
  aws:
    secretsmanager:
      endpoint: \${MOTO_ENDPOINT}
      region: us-east-1
      kmskey: ""
      credentials:
        accesskey: testing
        secretkey: testing
`);
    edge = await startEdge({ configFile, ca: cert, cwd: dir, env: { MOTO_ENDPOINT: moto.endpoint } });
    sm = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  });
  after(async () => {
    sm?.destroy();
    await cleanup();
  });

  it("answers MinIO's KES call sequence with keys kept in Secrets Manager", async () => {
    await minioSequence(edge, minio, "minio-key", assert);
    const names = (await sm.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name);
    assert.deepEqual(names, ["minio-key"]);
    // The secret is KES's format: base64 of a protobuf KeyVersion.
    const value = (await sm.send(new GetSecretValueCommand({ SecretId: "minio-key" }))).SecretString!;
    assert.match(value, /^[A-Za-z0-9+/]+=*$/);
    assert.equal(Buffer.from(value, "base64")[0], 0x0a);
  });

  it("reads a key KES stored in Secrets Manager, lists, deletes", async () => {
    const master = new Uint8Array(randomBytes(32));
    await sm.send(new CreateSecretCommand({ Name: "minio-from-kes", SecretString: kesStoredKey(master) }));
    const ct = kesAesEncrypt(master, new TextEncoder().encode("dek"), unb64(MINIO_CONTEXT));
    const d = await kes(edge, "POST", "/v1/key/decrypt/minio-from-kes", { client: minio, body: { ciphertext: b64(ct), context: MINIO_CONTEXT } });
    assert.equal(d.status, 200, d.text);
    assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), "dek");

    const list = await kes(edge, "GET", "/v1/key/list/minio-*", { client: minio });
    assert.deepEqual(list.json.names, ["minio-from-kes", "minio-key"]);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/minio-from-kes", { client: minio })).status, 403);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/minio-from-kes", { client: admin })).status, 200);
    assert.equal((await kes(edge, "GET", "/v1/key/describe/minio-from-kes", { client: admin })).status, 404);
    assert.deepEqual((await sm.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name), ["minio-key"]);
    // The name is free again (deleted without a recovery window).
    assert.equal((await kes(edge, "POST", "/v1/key/create/minio-from-kes", { client: minio })).status, 200);
  });

  it("reports the store's latency and reachability in /v1/status", async () => {
    const s = await kes(edge, "GET", "/v1/status", { client: minio });
    assert.equal(s.status, 200);
    assert.equal(s.json.keystore_unreachable, false);
    assert.equal(typeof s.json.keystore_latency, "number");
  });
});
