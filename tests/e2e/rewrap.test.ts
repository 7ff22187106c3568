/**
 * Rewrap everywhere, and the key lifecycle on every protocol: KEY:REWRAP
 * pipelined over the native protocol, /v1/key/rewrap on the KES API, `kms
 * rewrap` over files of ciphertexts; and a key disabled (or scheduled for
 * deletion) through the AWS API refuses crypto over the native and KES APIs
 * too, each with its own error.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as kms from "@aws-sdk/client-kms";
import { KmsClient, KmsClientError } from "../../lib/client/client.ts";
import { awsIdentity } from "../helpers/aws.ts";
import { kmsClient, type Target } from "../helpers/aws-scenario.ts";
import { b64, clientIdOf, kes, type KesTarget, unb64 } from "../helpers/kes.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";

const ENCLAVE = "rewrap-1";
const enc = new TextEncoder();
let server: KmsServer;
let native: KmsClient;
let kesTarget: KesTarget;
let aws: Target;

describe("rewrap and the lifecycle across protocols", () => {
  before(async () => {
    server = await startServer({ extraArgs: ["--kes-enclave", ENCLAVE] });
    native = server.client();
    kesTarget = { port: server.port, ca: server.ca };
    aws = await awsIdentity(native, ENCLAVE, `https://${server.address}`, server.ca, server.caFile);
    await native.createKey(ENCLAVE, "k1");
    await native.createKey(ENCLAVE, "k2");
  });
  after(cleanup);

  it("KEY:REWRAP pipelined: ciphertexts of an old version move to the latest, or to another key, with their associated data", async () => {
    const ad = enc.encode("bucket/object");
    const texts = ["a", "bb", "ccc"];
    const old = await Promise.all(texts.map(async (t) => (await native.encrypt(ENCLAVE, "k1", enc.encode(t), ad)).ciphertext as Uint8Array));
    await native.createKey(ENCLAVE, "k1", "", true); // v2
    const same = await native.batch(ENCLAVE, old.map((ct) => KmsClient.rewrapCall("k1", ct, ad)));
    assert.deepEqual(same.map((r) => [r.name, r.version]), texts.map(() => ["k1", 2]));
    const other = await native.batch(ENCLAVE, old.map((ct) => KmsClient.rewrapCall("k1", ct, ad, "k2")));
    for (const [i, t] of texts.entries()) {
      assert.equal(new TextDecoder().decode((await native.decrypt(ENCLAVE, "k1", same[i].ciphertext as Uint8Array, ad)).plaintext as Uint8Array), t);
      assert.equal(new TextDecoder().decode((await native.decrypt(ENCLAVE, "k2", other[i].ciphertext as Uint8Array, ad)).plaintext as Uint8Array), t);
    }
    // One ciphertext with the wrong associated data fails the whole request, as any decryption would.
    await assert.rejects(native.batch(ENCLAVE, [KmsClient.rewrapCall("k1", old[0], ad), KmsClient.rewrapCall("k1", old[1], enc.encode("other"))]),
      (err) => err instanceof KmsClientError && err.status === 400 && err.message === "invalid ciphertext");
  });

  it("KEY:REWRAP needs the command on both keys", async () => {
    const user = await awsIdentity(native, ENCLAVE, "", "", "", { privilege: "User", allow: { "KEY:REWRAP": ["k1"], "KEY:ENCRYPT": ["k1"] } });
    const c = server.client(user.apiKey);
    const ct = (await c.encrypt(ENCLAVE, "k1", enc.encode("x"))).ciphertext as Uint8Array;
    assert.equal((await c.rewrap(ENCLAVE, "k1", ct)).version, 2);
    await assert.rejects(c.rewrap(ENCLAVE, "k1", ct, undefined, "k2"), (err) => err instanceof KmsClientError && err.status === 403);
  });

  it("KES /v1/key/rewrap rewraps to the latest version or another key", async () => {
    const admin = clientIdOf(server.apiKey);
    const ctx = b64("ctx");
    const e = await kes(kesTarget, "POST", "/v1/key/encrypt/k1", { client: admin, body: { plaintext: b64("kes secret"), context: ctx } });
    assert.equal(e.status, 200, e.text);
    const r = await kes(kesTarget, "POST", "/v1/key/rewrap/k1", { client: admin, body: { ciphertext: e.json.ciphertext, context: ctx, new_key: "k2" } });
    assert.equal(r.status, 200, r.text);
    const d = await kes(kesTarget, "POST", "/v1/key/decrypt/k2", { client: admin, body: { ciphertext: r.json.ciphertext, context: ctx } });
    assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), "kes secret");
    const wrong = await kes(kesTarget, "POST", "/v1/key/rewrap/k1", { client: admin, body: { ciphertext: e.json.ciphertext, context: b64("other") } });
    assert.deepEqual([wrong.status, wrong.json.message], [400, "decryption failed: ciphertext is not authentic"]);
  });

  it("kms rewrap rewrites files of ciphertexts; a file with a bad line is left as it was", async () => {
    const dir = tempDir("kms-rewrap-");
    const many = path.join(dir, "many.enc"), one = path.join(dir, "one.enc"), bad = path.join(dir, "bad.enc");
    const lines: string[] = [];
    for (const t of ["first", "second", "third"]) lines.push(b64((await native.encrypt(ENCLAVE, "k1", enc.encode(t))).ciphertext as Uint8Array));
    writeFileSync(many, `${lines[0]}\n${lines[1]}\n\n${lines[2]}\n`);
    const single = await runKms(["encrypt", "--enclave", ENCLAVE, "k1", "-"], server.env(), { input: "from the cli" });
    assert.equal(single.code, 0, single.stderr);
    writeFileSync(one, single.stdout);
    const badText = `${lines[0]}\nnot base64!\n`;
    writeFileSync(bad, badText);
    await native.createKey(ENCLAVE, "k1", "", true); // a new latest version
    const latest = (await native.keyStatus(ENCLAVE, "k1")).version as number;
    const r = await runKms(["rewrap", "--enclave", ENCLAVE, "k1", many, one, bad], server.env());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: not a base64 ciphertext \\(file left unchanged\\)`));
    assert.match(r.stdout, new RegExp(`Rewrapped 4 ciphertext\\(s\\) in 2 file\\(s\\) to k1 v${latest}; 1 file\\(s\\) failed`));
    assert.equal(readFileSync(bad, "utf8"), badText);
    const after = readFileSync(many, "utf8").split("\n");
    assert.equal(after[2], "", "blank lines are kept");
    const texts = [];
    for (const l of [...after.filter(Boolean), readFileSync(one, "utf8").trim()]) {
      const ct = unb64(l);
      assert.equal(new DataView(ct.buffer, ct.byteOffset).getUint32(2), latest, "made with the latest version");
      texts.push(Buffer.from((await native.decrypt(ENCLAVE, "k1", ct)).plaintext as Uint8Array).toString());
    }
    assert.deepEqual(texts, ["first", "second", "third", "from the cli"]);
  });

  it("a key disabled or pending deletion through the AWS API refuses crypto over the native and KES APIs too", async () => {
    await native.createKey(ENCLAVE, "shared");
    const ct = (await native.encrypt(ENCLAVE, "shared", enc.encode("x"))).ciphertext as Uint8Array;
    const c = kmsClient(aws);
    const admin = clientIdOf(server.apiKey);
    const refusals = async () => [
      await native.encrypt(ENCLAVE, "shared", enc.encode("x")).then(() => "ok", (e: KmsClientError) => `${e.status} ${e.message}`),
      await native.decrypt(ENCLAVE, "shared", ct).then(() => "ok", (e: KmsClientError) => `${e.status} ${e.message}`),
      await native.generate(ENCLAVE, "shared").then(() => "ok", (e: KmsClientError) => `${e.status} ${e.message}`),
      await native.mac(ENCLAVE, "shared", enc.encode("m")).then(() => "ok", (e: KmsClientError) => `${e.status} ${e.message}`),
      await native.rewrap(ENCLAVE, "k1", (await native.encrypt(ENCLAVE, "k1", enc.encode("y"))).ciphertext as Uint8Array, undefined, "shared")
        .then(() => "ok", (e: KmsClientError) => `${e.status} ${e.message}`),
      await kes(kesTarget, "POST", "/v1/key/generate/shared", { client: admin, body: {} }).then((r) => `${r.status} ${r.json?.message ?? ""}`),
      await kes(kesTarget, "POST", "/v1/key/decrypt/shared", { client: admin, body: { ciphertext: b64(ct) } }).then((r) => `${r.status} ${r.json?.message ?? ""}`),
    ];
    try {
      await c.send(new kms.DisableKeyCommand({ KeyId: "shared" }));
      assert.deepEqual(await refusals(), Array(7).fill("409 key is disabled"));
      await c.send(new kms.EnableKeyCommand({ KeyId: "shared" }));
      await c.send(new kms.ScheduleKeyDeletionCommand({ KeyId: "shared", PendingWindowInDays: 7 }));
      assert.deepEqual(await refusals(), Array(7).fill("409 key is pending deletion"));
      // Still visible while pending: status works, and a cancel brings it back (disabled).
      assert.equal((await native.keyStatus(ENCLAVE, "shared")).name, "shared");
      await c.send(new kms.CancelKeyDeletionCommand({ KeyId: "shared" }));
      await c.send(new kms.EnableKeyCommand({ KeyId: "shared" }));
      assert.equal(Buffer.from((await native.decrypt(ENCLAVE, "shared", ct)).plaintext as Uint8Array).toString(), "x");
    } finally {
      c.destroy();
    }
  });
});
