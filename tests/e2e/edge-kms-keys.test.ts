/**
 * `kms edge` over a kms cluster, from the key's point of view: the edge runs
 * with a least-privilege identity (KEY:DERIVE, no KEY:MAC), its ciphertexts
 * survive an upstream rotation once its cache is gone, and an identity
 * allowed KEY:MAC on the same keys cannot recover the edge's key.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { KmsClientError } from "../../lib/client/client.ts";
import { cleanup, type EdgeProcess, kes, MINIO_CONTEXT, minioSequence, newClientId, startEdge, tempDir, unb64, writeServerTls } from "../helpers/kes.ts";
import { kesAesDecrypt } from "../helpers/kes-format.ts";
import { type KmsServer, startServer } from "../helpers/kms.ts";

after(cleanup);

const minio = newClientId();
const EDGE_RIGHTS = ["KEY:CREATE", "KEY:IMPORT", "KEY:STATUS", "KEY:DERIVE", "KEY:DELETE", "KEY:LIST"];

function config(dir: string, store: KmsServer): string {
  return `address: 127.0.0.1:0
tls:
  key: ${path.join(dir, "server.key")}
  cert: ${path.join(dir, "server.crt")}
policy:
  minio:
    allow: ["/v1/key/create/minio-*", "/v1/key/generate/minio-*", "/v1/key/decrypt/minio-*"]
    identities: ["${minio.hex}"]
keystore:
  kms:
    endpoint: ${store.address}
    enclave: edge
    api_key: \${STORE_API_KEY}
    tls:
      ca: ${store.caFile}
`;
}

/** A fresh API key given `rights` on every key of enclave `edge`. */
async function identityWith(store: KmsServer, policy: string, rights: string[]): Promise<string> {
  const admin = store.client();
  await admin.createPolicy("edge", policy, Object.fromEntries(rights.map((r) => [r, ["*"]])));
  const apiKey = newApiKey();
  await admin.createIdentity("edge", parseApiKey(apiKey).identity, "User");
  await admin.assignPolicy("edge", policy, parseApiKey(apiKey).identity);
  return apiKey;
}

describe("kms edge over a kms cluster: the edge key is the edge's alone, and outlives upstream rotation", () => {
  it("decrypts what it made before an upstream add-key --version; a KEY:MAC identity cannot recover its key", async () => {
    const dir = tempDir("kms-edge-keys-");
    const store = await startServer();
    await store.client().createEnclave("edge");
    const edgeKey = await identityWith(store, "edge", EDGE_RIGHTS);
    const macKey = await identityWith(store, "mac-only", ["KEY:MAC", "KEY:STATUS"]);
    writeServerTls(dir);
    const configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, config(dir, store));
    const start = (): Promise<EdgeProcess> => startEdge({ configFile, ca: writeServerTls(dir).cert, env: { STORE_API_KEY: edgeKey } });

    let edge = await start();
    await minioSequence(edge, minio, "minio-key", assert);
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: MINIO_CONTEXT } });
    assert.equal(dek.status, 200, dek.text);

    // Rotate upstream, then drop the edge's cache by starting a fresh (stateless) edge.
    await store.client().createKey("edge", "minio-key", "", true);
    assert.equal((await store.client().keyStatus("edge", "minio-key")).version, 2);
    assert.equal(await edge.stop(), 0);
    edge = await start();
    const opened = await kes(edge, "POST", "/v1/key/decrypt/minio-key", { client: minio, body: { ciphertext: dek.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(opened.status, 200, opened.text);
    assert.equal(opened.json.plaintext, dek.json.plaintext);
    // And what it makes after the rotation decrypts too.
    const after = await kes(edge, "POST", "/v1/key/generate/minio-key", { client: minio, body: { context: MINIO_CONTEXT } });
    const back = await kes(edge, "POST", "/v1/key/decrypt/minio-key", { client: minio, body: { ciphertext: after.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(back.json.plaintext, after.json.plaintext);

    // KEY:MAC on the same key: no label, no version gives a key that opens the edge's ciphertext.
    const mac = store.client(macKey);
    const ciphertext = unb64(dek.json.ciphertext);
    const context = unb64(MINIO_CONTEXT);
    const labels = ["kms/edge/v1/master-key", "kms/edge/v2/master-and-hmac-key", "kms/v1/derive:kms/edge/v2/master-and-hmac-key", ""];
    for (const version of [1, 2]) {
      for (const label of labels) {
        const guess = (await mac.mac("edge", "minio-key", new TextEncoder().encode(label), version)).mac as Uint8Array;
        assert.throws(() => kesAesDecrypt(guess, ciphertext, context), Error, `KEY:MAC of "${label}" v${version} opened the edge ciphertext`);
      }
    }
    await assert.rejects(mac.derive("edge", "minio-key", new TextEncoder().encode("kms/edge/v2/master-and-hmac-key"), 64, 1), (err: unknown) => {
      assert.ok(err instanceof KmsClientError);
      assert.equal(err.status, 403);
      return true;
    });
    // The edge's own identity has no KEY:MAC at all.
    await assert.rejects(store.client(edgeKey).mac("edge", "minio-key", new Uint8Array(1)), (err: unknown) => (err as KmsClientError).status === 403);
    assert.equal(await edge.stop(), 0);
  });
});
