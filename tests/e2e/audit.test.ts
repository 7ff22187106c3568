/**
 * The audit trail (issue 13): every request — allowed, denied, failed,
 * pipelined, native or KES — becomes one record in DATA_DIR/audit, chained
 * by hashes; `kms audit verify` accepts the trail a server wrote and closed,
 * and catches an edited, a deleted, a swapped and a truncated record in
 * copies of it, saying where. Records also go to `--audit FILE` and to the
 * KES audit stream; no secret the test used is in any of them.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { findSecrets, oneShotClient, rawRequest, type Secret, stopWithin, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";
import { type OpenStream, openStream } from "../helpers/stream.ts";

const PLAINTEXT = Buffer.from("plaintext-walrus-5d2e8c1f-never-logged");
const IMPORTED = Buffer.from("f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff", "hex");
const userKey = newApiKey();

let server: KmsServer;
let work: string;
let auditFile: string;
let stream: OpenStream;
const deks: Buffer[] = [];

/** The trail's lines, as files → lines. */
function trail(dir: string): Array<{ file: string; lines: string[] }> {
  return readdirSync(dir).sort().map((file) => ({ file, lines: readFileSync(path.join(dir, file), "utf8").split("\n").filter(Boolean) }));
}

/** A copy of the trail with one change; `kms audit verify` on it. */
async function verifyChanged(name: string, change: (files: Array<{ file: string; lines: string[] }>) => void, env: Record<string, string> = {}) {
  const copy = path.join(work, name);
  cpSync(path.join(server.dir, "audit"), copy, { recursive: true });
  const files = trail(copy);
  change(files);
  for (const f of files) writeFileSync(path.join(copy, f.file), f.lines.map((l) => l + "\n").join(""));
  return runKms(["audit", "verify", copy], env);
}

describe("the audit trail: one chained record per request, tamper-evident, without secrets", () => {
  before(async () => {
    work = tempDir("kms-audit-e2e-");
    auditFile = path.join(work, "audit-copy.jsonl");
    server = await startServer({ extraArgs: ["--audit", auditFile] });
    stream = await openStream(server, { path: "/v1/log/audit", apiKey: server.apiKey });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers["content-type"], "application/x-ndjson");
  });
  after(async () => {
    stream?.close();
    await cleanup();
  });

  it("mixed traffic: allowed, pipelined, denied, failed, native and KES", async () => {
    const admin = oneShotClient(server);
    await admin.createEnclave("ward-9");
    await admin.createKey("ward-9", "key-heron");
    await admin.importKey("ward-9", "key-imported", IMPORTED);
    await admin.createEnclave("default");
    await admin.createKey("default", "kes-key");
    const ct = (await admin.encrypt("ward-9", "key-heron", PLAINTEXT)).ciphertext as Uint8Array;
    const back = await admin.decrypt("ward-9", "key-heron", ct);
    assert.deepEqual(Buffer.from(back.plaintext as Uint8Array), PLAINTEXT);
    deks.push(Buffer.from((await admin.generate("ward-9", "key-heron")).plaintext as Uint8Array));
    // A pipelined request of 100 GENERATE frames: one record, 100 operations.
    const frames = Array.from({ length: 100 }, () => ({ id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse", message: { name: "key-heron", version: 0, associated_data: new Uint8Array(), length: 32 } }));
    const c = server.client();
    for (const r of await c.batch("ward-9", frames)) deks.push(Buffer.from(r.plaintext as Uint8Array));
    // Failed: a ciphertext that does not open; a key that does not exist.
    const bad = Buffer.from(ct);
    bad[bad.length - 1] ^= 1;
    await assert.rejects(admin.decrypt("ward-9", "key-heron", bad), /invalid ciphertext/);
    await assert.rejects(admin.generate("ward-9", "key-none"), /key does not exist/);
    // Denied: a stranger, and a known user without the right.
    await assert.rejects(oneShotClient({ ...server, apiKey: newApiKey() }).generate("ward-9", "key-heron"), /access denied/);
    await c.createIdentity("ward-9", parseApiKey(userKey).identity);
    await assert.rejects(oneShotClient({ ...server, apiKey: userKey }).generate("ward-9", "key-heron"), /access denied/);
    // KES: a generate, and a denied one.
    const kes = await rawRequest(server, { method: "PUT", path: "/v1/key/generate/kes-key", body: Buffer.from("{}") });
    assert.equal(kes.status, 200);
    deks.push(Buffer.from(JSON.parse(kes.body.toString()).plaintext, "base64"));
    assert.equal((await rawRequest(server, { method: "PUT", path: "/v1/key/generate/kes-key", body: Buffer.from("{}"), apiKey: userKey })).status, 403);
    c.close();
  });

  it("the stream and --audit carry every request as it is answered", async () => {
    const lines = await waitUntil(() => {
      const l = stream.bytes().toString().split("\n").filter(Boolean);
      return l.some((x) => JSON.parse(x).response.code === 403 && JSON.parse(x).request.path === "/v1/key/generate/kes-key") ? l : undefined;
    }, "the last request on the audit stream");
    const kesLine = JSON.parse(lines.find((l) => l.includes("/v1/key/generate/kes-key"))!);
    assert.deepEqual(Object.keys(kesLine), ["time", "request", "response"]);
    assert.deepEqual(Object.keys(kesLine.request), ["ip", "path", "identity"]);
    assert.match(kesLine.request.identity, /^[0-9a-f]{64}$/, "KES's hex identity");
    assert.equal(typeof kesLine.response.time, "number");
    const copy = await waitUntil(() => {
      const l = readFileSync(auditFile, "utf8").split("\n").filter(Boolean).map((x) => JSON.parse(x));
      return l.some((x) => x.status === 403 && x.api === "kes") ? l : undefined;
    }, "the last request in the --audit file");
    const pipelined = copy.find((r) => r.command === "KEY:GENERATE" && r.ops === 100);
    assert.ok(pipelined, "the pipelined request is one record of 100 operations");
    assert.equal(pipelined.enclave, "ward-9");
    assert.equal(pipelined.object, "key-heron");
    assert.ok(copy.some((r) => r.command === "KEY:DECRYPT" && r.status === 400), "the failed decryption");
    assert.ok(copy.some((r) => r.command === "KEY:GENERATE" && r.status === 403 && r.identity !== server.client().identity), "the denied requests");
  });

  it("the closed trail verifies; every request is one record", async () => {
    assert.equal(await stopWithin(server), 0);
    const r = await runKms(["audit", "verify", server.dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: \d+ records in 1 file, seq 1 to \d+, chain head [0-9a-f]{64}$/m);
    const records = trail(path.join(server.dir, "audit"))[0].lines.map((l) => JSON.parse(l));
    const copy = readFileSync(auditFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(records.filter((x) => !x.event).map((x) => x.id), copy.map((x) => x.id), "the trail and the copy hold the same requests");
    assert.deepEqual(records.filter((x) => x.event && x.event !== "seal").map((x) => x.event), ["open", "close"]);
    const sealed = await runKms(["audit", "verify", server.dir], { MINIO_KMS_HSM_KEY: server.hsmKey });
    assert.equal(sealed.code, 0, sealed.stdout + sealed.stderr);
    assert.match(sealed.stdout, /^OK: .*; [1-9]\d* seals verified with the HSM key$/m);
    const onDisk = JSON.stringify(records);
    assert.ok(!onDisk.includes("ward-9") && !onDisk.includes("key-heron"), "names are sealed on disk");
    const shown = await runKms(["audit", "show", server.dir], { MINIO_KMS_HSM_KEY: server.hsmKey });
    assert.match(shown.stdout, / KEY:GENERATE enclave=ward-9 object=key-heron ops=100 200 /, "kms audit show unseals them with the HSM key");
  });

  it("an edited, a deleted, a swapped and a truncated record are each caught, with where", async () => {
    const cases: Array<[string, (f: Array<{ file: string; lines: string[] }>) => void, RegExp]> = [
      ["edited", (f) => (f[0].lines[5] = f[0].lines[5].replace('"status":200', '"status":204')), /audit-00000001\.jsonl:6 \(seq 6\): edited: the record's hash does not match its content/],
      ["deleted", (f) => f[0].lines.splice(5, 1), /audit-00000001\.jsonl:6 \(seq 7\): records missing before this one: seq jumps from 5 to 7/],
      ["swapped", (f) => ([f[0].lines[5], f[0].lines[6]] = [f[0].lines[6], f[0].lines[5]]), /audit-00000001\.jsonl:7 \(seq 6\): out of order: seq 6 after seq 7/],
      ["truncated", (f) => f[0].lines.splice(-2), /without a close record: records after it were removed/],
    ];
    for (const [name, change, expect] of cases) {
      const r = await verifyChanged(name, change);
      assert.equal(r.code, 1, `${name}: ${r.stdout}`);
      assert.match(r.stdout, expect, name);
      assert.match(r.stdout, /^FAILED: /m);
    }
  });

  it("a chain rewritten from scratch passes the keyless check; the HSM key's seals catch it", async () => {
    // Edit a record, then recompute every seq, prev and hash, as anyone who can write the files can.
    const rechain = (f: Array<{ file: string; lines: string[] }>) => {
      f[0].lines[5] = f[0].lines[5].replace('"status":200', '"status":204');
      let prev = "0".repeat(64);
      f[0].lines = f[0].lines.map((line) => {
        const { hash: _, ...fields } = JSON.parse(line);
        const body = JSON.stringify({ ...fields, prev });
        prev = createHash("sha256").update(body).digest("hex");
        return `${body.slice(0, -1)},"hash":"${prev}"}`;
      });
    };
    const keyless = await verifyChanged("rechained", rechain);
    assert.equal(keyless.code, 0, keyless.stdout);
    assert.match(keyless.stdout, /note: the seals were not checked/);
    const keyed = await verifyChanged("rechained-keyed", rechain, { MINIO_KMS_HSM_KEY: server.hsmKey });
    assert.equal(keyed.code, 1, keyed.stdout);
    assert.match(keyed.stdout, /audit-00000001\.jsonl:\d+ \(seq \d+\): its seal does not verify under the HSM key/);
  });

  it("no secret the test used is in any audit output", () => {
    const outputs = path.join(work, "outputs");
    cpSync(path.join(server.dir, "audit"), path.join(outputs, "trail"), { recursive: true });
    cpSync(auditFile, path.join(outputs, "audit-copy.jsonl"));
    writeFileSync(path.join(outputs, "stream.ndjson"), stream.bytes());
    writeFileSync(path.join(outputs, "server-output.txt"), server.output());
    const secrets: Secret[] = [
      { label: "admin API key", bytes: Buffer.from(server.apiKey) },
      { label: "admin API key seed", bytes: Buffer.from(server.apiKey.slice(3), "base64url") },
      { label: "user API key", bytes: Buffer.from(userKey) },
      { label: "HSM key", bytes: Buffer.from(server.hsmKey) },
      { label: "HSM key bytes", bytes: Buffer.from(server.hsmKey.slice("hsm:aes256:".length), "base64") },
      { label: "imported key", bytes: IMPORTED },
      { label: "plaintext", bytes: PLAINTEXT },
      ...deks.map((d, i) => ({ label: `DEK ${i}`, bytes: d })),
    ];
    assert.ok(deks.length >= 102);
    assert.deepEqual(findSecrets(outputs, secrets), []);
  });
});
