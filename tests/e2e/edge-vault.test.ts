/**
 * `kms edge` with the vault key store. No Vault binary can be installed
 * here, so these run against tests/helpers/vault.ts, which follows Vault's
 * documented HTTP API for the endpoints used. With VAULT_ADDR set (plus
 * VAULT_CACERT, VAULT_ROLE_ID, VAULT_SECRET_ID and a KV v1 engine at "kv" and
 * a KV v2 engine at "kv-v2") the same calls run against a real Vault; the
 * checks that inspect or restart the test server are skipped there.
 *
 * The first config is seed 002's MinIO KMS guide config, unchanged except for
 * the values its readers fill in (identity, AppRole, Vault's address).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  b64, cleanup, type EdgeProcess, kes, MINIO_CONTEXT, minioSequence, newClientId, startEdge, tempDir, unb64, waitFor, writeServerTls,
} from "../helpers/kes.ts";
import { kesAesEncrypt, kesStoredKey } from "../helpers/kes-format.ts";
import { startVault, type VaultTestServer } from "../helpers/vault.ts";

const REAL = process.env.VAULT_ADDR;
const onlyTestServer = { skip: REAL ? "inspects the Vault test server" : false };

interface VaultTarget {
  endpoint: string;
  caFile: string;
  roleId: string;
  secretId: string;
  server?: VaultTestServer;
}

async function vaultFor(dir: string, opts: Parameters<typeof startVault>[0] extends infer O ? Omit<O & object, "dir"> : never = {}): Promise<VaultTarget> {
  if (REAL) {
    return { endpoint: REAL, caFile: process.env.VAULT_CACERT ?? "", roleId: process.env.VAULT_ROLE_ID ?? "", secretId: process.env.VAULT_SECRET_ID ?? "" };
  }
  const server = await startVault({ dir, ...opts });
  return { endpoint: server.endpoint, caFile: server.caFile, roleId: server.roleId, secretId: server.secretId, server };
}

after(cleanup);

describe("seed 002's MinIO-style KES config with Vault (KV v1, AppRole)", () => {
  const minio = newClientId();
  let dir: string, vault: VaultTarget, edge: EdgeProcess;

  before(async () => {
    dir = tempDir("kms-edge-seed-");
    vault = await vaultFor(dir, { kv: { kv: 1, "kv-v2": 2 } });
    const { cert } = writeServerTls(dir, "kes-tls");
    if (!REAL) writeFileSync(path.join(dir, "vault-tls.crt"), readFileSync(vault.caFile));
    // Seed 002, "4.2 Create the KES config file", with today's `allow` instead of `paths`
    // and the values the guide tells its reader to fill in.
    const config = `# The TCP address (ip:port) for the KES server to listen on.
address: 0.0.0.0:7373

tls:
  key:  kes-tls.key
  cert: kes-tls.crt

policy:
  minio:
    allow:
    - /v1/key/create/minio-*
    - /v1/key/generate/minio-*
    - /v1/key/decrypt/minio-*
    identities:
    - ${minio.hex}

cache:
  expiry:
    any:    5m0s 
    unused: 20s 

keys:
  vault:
    endpoint: ${vault.endpoint}  # The Vault endpoint - i.e. https://127.0.0.1:8200
    prefix:   minio                   # The domain resp. prefix at Vault's K/V backend 

    approle:
      id:     "${vault.roleId}"    # Your AppRole Role ID 
      secret: "${vault.secretId}"    # Your AppRole Secret ID
      retry:  15s   # Duration until the server tries to re-authenticate after connection loss.

    tls:
      ca: ${REAL ? vault.caFile : "vault-tls.crt"}  # Since we use self-signed certificates
    
    status:
      ping: 10s
`;
    writeFileSync(path.join(dir, "kes-config.yaml"), config);
    // The guide runs the server on 0.0.0.0:7373; tests take a free port on loopback.
    edge = await startEdge({ configFile: "kes-config.yaml", cwd: dir, ca: cert, addr: "127.0.0.1:0" });
  });

  it("starts and answers MinIO's calls for the guide's key minio-key-1", async () => {
    await minioSequence(edge, minio, "minio-key-1", assert);
  });

  it("keeps the key at kv/minio/minio-key-1 as {minio-key-1: <KES key>}", onlyTestServer, () => {
    const entry = vault.server!.read("kv", "minio/minio-key-1");
    assert.ok(entry, "the key is in Vault");
    assert.deepEqual(Object.keys(entry!), ["minio-key-1"]);
    assert.equal(Buffer.from(String(entry!["minio-key-1"]), "base64")[0], 0x0a);
  });

  it("enforces the guide's policy: minio-* only, no other operations", async () => {
    assert.equal((await kes(edge, "POST", "/v1/key/create/my-key-1", { client: minio })).status, 403);
    assert.equal((await kes(edge, "GET", "/v1/key/list/*", { client: minio })).status, 403);
    assert.equal((await kes(edge, "GET", "/v1/key/describe/minio-key-1", { client: minio })).status, 403);
  });

  it("reads a key KES wrote into Vault", onlyTestServer, async () => {
    const master = new Uint8Array(32).fill(9);
    vault.server!.write("kv", "minio/minio-kes-written", { "minio-kes-written": kesStoredKey(master) });
    const ct = kesAesEncrypt(master, new TextEncoder().encode("from KES"), unb64(MINIO_CONTEXT));
    const d = await kes(edge, "POST", "/v1/key/decrypt/minio-kes-written", { client: minio, body: { ciphertext: b64(ct), context: MINIO_CONTEXT } });
    assert.equal(d.status, 200, d.text);
    assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), "from KES");
  });
});

describe("Vault KV v2 with check-and-set, transit wrapping, namespace and token renewal", () => {
  const admin = newClientId();
  let dir: string, vault: VaultTarget, edge: EdgeProcess;

  before(async () => {
    dir = tempDir("kms-edge-vault2-");
    vault = await vaultFor(dir, { kv: { "kv-v2": 2 }, tokenTtlSec: 1, namespace: REAL ? undefined : "team-a" });
    const { cert } = writeServerTls(dir);
    writeFileSync(path.join(dir, "kes.yml"), `address: 127.0.0.1:7373
admin:
  identity: ${admin.hex}
tls: { key: server.key, cert: server.crt }
cache:
  expiry: { any: 5m, unused: 1m }
  probe: 200ms
keystore:
  vault:
    endpoint: ${vault.endpoint}
    engine: kv-v2
    version: v2
    ${REAL ? "" : "namespace: team-a"}
    prefix: tenant-1/keys
    approle:
      id: \${VAULT_APPROLE_ID}
      secret: \${VAULT_APPROLE_SECRET}
      retry: 200ms
    transit:
      engine: transit
      key: kes-wrap
    tls:
      ca: ${vault.caFile}
`);
    edge = await startEdge({ configFile: "kes.yml", cwd: dir, ca: cert, env: { VAULT_APPROLE_ID: vault.roleId, VAULT_APPROLE_SECRET: vault.secretId } });
  });

  it("creates exactly once under concurrent creates (cas: 0)", async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => kes(edge, "POST", "/v1/key/create/shared-key", { client: admin })));
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400]);
    for (const r of replies.filter((x) => x.status === 400)) assert.deepEqual(r.json, { message: "key already exists" });
  });

  it("stores the key wrapped by transit, never in the clear", onlyTestServer, () => {
    const entry = vault.server!.read("kv-v2", "tenant-1/keys/shared-key");
    assert.match(String(entry?.["shared-key"]), /^vault:v1:/);
  });

  it("generates, decrypts, lists and deletes through KV v2", async () => {
    const g = await kes(edge, "POST", "/v1/key/generate/shared-key", { client: admin, body: { context: MINIO_CONTEXT } });
    assert.equal(g.status, 200, g.text);
    const d = await kes(edge, "POST", "/v1/key/decrypt/shared-key", { client: admin, body: { ciphertext: g.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(d.json.plaintext, g.json.plaintext);
    assert.equal((await kes(edge, "POST", "/v1/key/create/second-key", { client: admin })).status, 200);
    assert.deepEqual((await kes(edge, "GET", "/v1/key/list/*", { client: admin })).json.names, ["second-key", "shared-key"]);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/second-key", { client: admin })).status, 200);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/second-key", { client: admin })).status, 404);
    assert.deepEqual((await kes(edge, "GET", "/v1/key/list/*", { client: admin })).json.names, ["shared-key"]);
  });

  it("renews its token before the lease ends, and logs in again when the token is revoked", onlyTestServer, async () => {
    const s = vault.server!.stats;
    await waitFor(() => s.renewals >= 2, "two token renewals (1 s leases)");
    const logins = s.logins;
    vault.server!.revokeAll();
    // The next store call is refused (403), logs in again and succeeds.
    assert.equal((await kes(edge, "POST", "/v1/key/create/after-revoke", { client: admin })).status, 200);
    assert.ok(s.logins > logins, "a fresh AppRole login");
  });

  it("reports Vault down and back through /v1/status", onlyTestServer, async () => {
    await vault.server!.stop();
    await waitFor(async () => (await kes(edge, "GET", "/v1/status", { client: admin })).json.keystore_unreachable === true, "the probe to see Vault down");
    assert.equal((await kes(edge, "POST", "/v1/key/create/while-down", { client: admin })).status, 502);
    assert.equal((await kes(edge, "POST", "/v1/key/generate/shared-key", { client: admin, body: {} })).status, 200, "cached");
    await vault.server!.start();
    await waitFor(async () => (await kes(edge, "GET", "/v1/status", { client: admin })).json.keystore_unreachable === false, "the probe to see Vault back");
    assert.equal((await kes(edge, "POST", "/v1/key/create/while-down", { client: admin })).status, 200);
  });
});
