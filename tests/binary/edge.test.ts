/**
 * A subset of the KES and edge tests against the compiled binary (run with
 * KMS_BINARY=dist/kms; without it, against the sources): MinIO's calls to an
 * edge server on the fs store and on Secrets Manager (the AWS SDK is bundled),
 * a stranger refused, a policy denying, and the KES API of the stateful
 * server with kms migrate.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { b64, cleanup, clientIdOf, kes, MINIO_CONTEXT, minioSequence, newClientId, startEdge, startMoto, tempDir, unb64, writeServerTls } from "../helpers/kes.ts";
import { kesAesEncrypt, kesStoredKey } from "../helpers/kes-format.ts";
import { runKms, startServer } from "../helpers/kms.ts";

after(cleanup);

function edgeConfig(dir: string, minioHex: string, keystore: string): string {
  return `address: 0.0.0.0:7373
tls:
  key: ${path.join(dir, "server.key")}
  cert: ${path.join(dir, "server.crt")}
policy:
  minio:
    allow: [/v1/key/create/minio-*, /v1/key/generate/minio-*, /v1/key/decrypt/minio-*]
    identities: [${minioHex}]
keystore:
${keystore}
`;
}

describe(`kms edge (${process.env.KMS_BINARY ?? "sources"})`, () => {
  it("serves MinIO's calls from an fs store, refuses strangers and denied paths", async () => {
    const dir = tempDir("kms-bin-edge-");
    const { cert } = writeServerTls(dir);
    const minio = newClientId();
    const configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, edgeConfig(dir, minio.hex, `  fs:\n    path: ${path.join(dir, "keys")}`));
    const edge = await startEdge({ configFile, ca: cert });
    await minioSequence(edge, minio, "minio-key", assert);
    assert.equal((await kes(edge, "POST", "/v1/key/generate/minio-key", { client: newClientId(), body: {} })).status, 403);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/minio-key", { client: minio })).status, 403);
    assert.equal(await edge.stop(), 0);
  });

  it("serves MinIO's calls from Secrets Manager (moto_server)", async () => {
    const moto = await startMoto();
    const dir = tempDir("kms-bin-aws-");
    const { cert } = writeServerTls(dir);
    const minio = newClientId();
    const configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, edgeConfig(dir, minio.hex, `  aws:\n    secretsmanager:\n      endpoint: ${moto.endpoint}\n      region: us-east-1\n      credentials: {accesskey: testing, secretkey: testing}`));
    const edge = await startEdge({ configFile, ca: cert });
    await minioSequence(edge, minio, "minio-key", assert);
  });

  it("migrates a KES fs store into the stateful server, whose KES API then decrypts KES's ciphertexts", async () => {
    const dir = tempDir("kms-bin-migrate-");
    const store = path.join(dir, "keys");
    mkdirSync(store);
    const master = new Uint8Array(randomBytes(32));
    writeFileSync(path.join(store, "minio-key"), kesStoredKey(master), { mode: 0o600 });
    const configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, edgeConfig(dir, newClientId().hex, `  fs:\n    path: ${store}`));
    const server = await startServer({ extraArgs: ["--kes-enclave", "tenant"] });
    await server.client().createEnclave("tenant");
    const r = await runKms(["migrate", "--from", configFile, "--enclave", "tenant"], server.env());
    assert.equal(r.code, 0, r.stderr);
    const ct = kesAesEncrypt(master, new TextEncoder().encode("dek"), unb64(MINIO_CONTEXT));
    const d = await kes({ port: server.port, ca: server.ca }, "POST", "/v1/key/decrypt/minio-key", {
      client: clientIdOf(server.apiKey), body: { ciphertext: b64(ct), context: MINIO_CONTEXT },
    });
    assert.equal(d.status, 200, d.text);
    assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), "dek");
  });
});
