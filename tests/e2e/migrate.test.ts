/**
 * `kms migrate`: keys of a KES fs key store — written in KES's formats by
 * this test, and created by a `kms edge` server — are imported into an
 * enclave, and their KES-format ciphertexts (built here with node:crypto and
 * by the edge server) decrypt through the stateful server's KES and native
 * APIs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { b64, cleanup, clientIdOf, kes, MINIO_CONTEXT, newClientId, startEdge, tempDir, unb64, writeServerTls } from "../helpers/kes.ts";
import { kesAesEncrypt, kesChaChaEncrypt, kesLegacyJsonKey, kesStoredKey } from "../helpers/kes-format.ts";
import { type KmsServer, runKms, startServer } from "../helpers/kms.ts";

const ctx = new TextEncoder().encode('{"bucket":"photos/cat.jpg"}');
const text = (s: string) => new TextEncoder().encode(s);

describe("kms migrate from a KES fs key store", () => {
  let dir: string, configFile: string, server: KmsServer;
  let aesKey: Uint8Array;
  const sealed: Array<{ name: string; ciphertext: Uint8Array; plaintext: Uint8Array; context: Uint8Array }> = [];

  before(async () => {
    dir = tempDir("kms-migrate-");
    const store = path.join(dir, "keys");
    mkdirSync(store, { mode: 0o755 });
    const { cert } = writeServerTls(dir);
    configFile = path.join(dir, "kes.yml");
    const admin = newClientId();
    writeFileSync(configFile, `address: 0.0.0.0:7373
admin:
  identity: ${admin.hex}
tls:
  key: ${path.join(dir, "server.key")}
  cert: ${path.join(dir, "server.crt")}
keystore:
  fs:
    path: ${store}
`);
    // Keys as KES writes them, with ciphertexts made by KES's algorithm.
    const aes = aesKey = new Uint8Array(randomBytes(32)), chacha = new Uint8Array(randomBytes(32)), legacy = new Uint8Array(randomBytes(32));
    writeFileSync(path.join(store, "minio-aes"), kesStoredKey(aes, { hmacKey: new Uint8Array(randomBytes(32)), createdBy: admin.hex }), { mode: 0o600 });
    writeFileSync(path.join(store, "minio-chacha"), kesStoredKey(chacha, { type: 2 }), { mode: 0o600 });
    writeFileSync(path.join(store, "minio-legacy"), kesLegacyJsonKey(legacy), { mode: 0o600 });
    sealed.push({ name: "minio-aes", plaintext: text("aes dek"), context: ctx, ciphertext: kesAesEncrypt(aes, text("aes dek"), ctx) });
    sealed.push({ name: "minio-chacha", plaintext: text("chacha dek"), context: ctx, ciphertext: kesChaChaEncrypt(chacha, text("chacha dek"), ctx) });
    sealed.push({ name: "minio-legacy", plaintext: text("old dek"), context: new Uint8Array(0), ciphertext: kesAesEncrypt(legacy, text("old dek"), new Uint8Array(0)) });

    // A key created and used by a kms edge server on the same store.
    const edge = await startEdge({ configFile, ca: cert });
    assert.equal((await kes(edge, "POST", "/v1/key/create/minio-edge", { client: admin })).status, 200);
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-edge", { client: admin, body: { context: MINIO_CONTEXT } });
    sealed.push({ name: "minio-edge", plaintext: unb64(dek.json.plaintext), context: unb64(MINIO_CONTEXT), ciphertext: unb64(dek.json.ciphertext) });
    await edge.stop();

    server = await startServer({ extraArgs: ["--kes-enclave", "tenant"] });
    await server.client().createEnclave("tenant");
  });
  after(cleanup);

  it("lists what it would import with --dry-run, importing nothing", async () => {
    const r = await runKms(["migrate", "--from", configFile, "--enclave", "tenant", "--dry-run"], server.env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /4 to import, 0 already present, 0 clashing, 0 failed .*dry run: nothing imported/);
    assert.doesNotMatch(r.stdout, /\bimported\b.*\n.*\bimported\b/, "a dry run never says 'imported' for a key");
    assert.deepEqual((await server.client().listKeys("tenant")).keys, []);
  });

  it("imports every key with its type", async () => {
    const r = await runKms(["migrate", "--from", configFile, "--enclave", "tenant"], server.env());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /4 imported, 0 already present, 0 clashing, 0 failed \(from fs .* into enclave tenant\)/);
    const keys = (await server.client().listKeys("tenant")).keys as Array<{ name: string; type: string }>;
    assert.deepEqual(keys.map((k) => [k.name, k.type]), [["minio-aes", "AES256"], ["minio-chacha", "ChaCha20"], ["minio-edge", "AES256"], ["minio-legacy", "AES256"]]);
  });

  it("makes KES's ciphertexts decrypt through the stateful server's KES API and native API", async () => {
    const admin = clientIdOf(server.apiKey);
    for (const s of sealed) {
      const viaKes = await kes({ port: server.port, ca: server.ca }, "POST", `/v1/key/decrypt/${s.name}`, {
        client: admin, body: { ciphertext: b64(s.ciphertext), context: b64(s.context) },
      });
      assert.equal(viaKes.status, 200, `${s.name}: ${viaKes.text}`);
      assert.deepEqual(unb64(viaKes.json.plaintext), s.plaintext, s.name);
      const viaNative = await server.client().decrypt("tenant", s.name, s.ciphertext, s.context);
      assert.deepEqual(viaNative.plaintext, s.plaintext, s.name);
      // The context still binds.
      const wrong = await kes({ port: server.port, ca: server.ca }, "POST", `/v1/key/decrypt/${s.name}`, { client: admin, body: { ciphertext: b64(s.ciphertext), context: b64("other") } });
      assert.equal(wrong.status, 400);
    }
  });

  it("leaves keys that already exist alone on a second run", async () => {
    const r = await runKms(["migrate", "--from", configFile, "--enclave", "tenant", "--json"], server.env());
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.keys.map((k: { result: string }) => k.result), ["exists", "exists", "exists", "exists"]);
  });

  // Bugs 3 and 4 of issue 18: the dry run said "imported" where the real run found "exists", and a
  // different key of the same name was "left alone" with exit 0 (KES's ciphertexts then failed).
  it("the dry run decides as the real run; a different key of the same name is a clash: an error, exit 1", async () => {
    const admin = server.client();
    await admin.createEnclave("second");
    await admin.importKey("second", "minio-aes", aesKey, "AES256"); // the very same key: fine
    await admin.createKey("second", "minio-chacha", "ChaCha20"); // same name, other bytes: a clash
    const args = ["migrate", "--from", configFile, "--enclave", "second", "--json"];
    const dry = await runKms([...args, "--dry-run"], server.env());
    const real = await runKms(args, server.env());
    const results = (r: typeof dry) => Object.fromEntries(JSON.parse(r.stdout).keys.map((k: { name: string; result: string }) => [k.name, k.result]));
    assert.deepEqual(results(dry), { "minio-aes": "exists", "minio-chacha": "clash", "minio-edge": "to import", "minio-legacy": "to import" });
    assert.deepEqual(results(real), { "minio-aes": "exists", "minio-chacha": "clash", "minio-edge": "imported", "minio-legacy": "imported" });
    for (const r of [dry, real]) {
      assert.equal(r.code, 1, "a clash fails the run");
      assert.match(r.stderr, /1 key\(s\) clash with different keys of the same name in enclave second.*--rename-prefix/);
    }
    // The clashing key was left as it was: still ChaCha20, and KES's ciphertext does not open under it.
    assert.equal((await admin.keyStatus("second", "minio-chacha")).type, "ChaCha20");
    const chacha = sealed.find((x) => x.name === "minio-chacha")!;
    await assert.rejects(admin.decrypt("second", "minio-chacha", chacha.ciphertext, chacha.context), /invalid ciphertext/);
    const human = await runKms(["migrate", "--from", configFile, "--enclave", "second"], server.env());
    assert.match(human.stdout, /^minio-chacha\s+clash\s+a DIFFERENT key/m);
    assert.match(human.stdout, /0 imported, 3 already present, 1 clashing, 0 failed/);
  });

  it("--rename-prefix imports every key under a new name, around a clash", async () => {
    const r = await runKms(["migrate", "--from", configFile, "--enclave", "second", "--rename-prefix", "kes-"], server.env());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^minio-chacha\s+kes-minio-chacha\s+imported/m);
    const chacha = sealed.find((x) => x.name === "minio-chacha")!;
    assert.deepEqual((await server.client().decrypt("second", "kes-minio-chacha", chacha.ciphertext, chacha.context)).plaintext, chacha.plaintext);
    const bad = await runKms(["migrate", "--from", configFile, "--enclave", "second", "--rename-prefix", "bad/"], server.env());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rename-prefix: invalid name/);
  });

  it("fails clearly without --from, with a bad config, or with a missing enclave", async () => {
    const noFrom = await runKms(["migrate", "--enclave", "tenant"], server.env());
    assert.equal(noFrom.code, 2);
    assert.match(noFrom.stderr, /--from/);
    const bad = path.join(dir, "bad.yml");
    writeFileSync(bad, "tls: {key: a, cert: b}\nkeystore:\n  gcp:\n    secretmanager: {}\n");
    const badRun = await runKms(["migrate", "--from", bad, "--enclave", "tenant"], server.env());
    assert.equal(badRun.code, 1);
    assert.match(badRun.stderr, /not supported by kms edge/);
    const noEnclave = await runKms(["migrate", "--from", configFile, "--enclave", "nope"], server.env());
    assert.equal(noEnclave.code, 1);
    assert.match(noEnclave.stdout, /enclave does not exist/);
  });
});
