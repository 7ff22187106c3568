/**
 * The compiled binary (KMS_BINARY, default dist/kms; build it with
 * ./compile.sh), copied to a temporary directory outside the repository and
 * run from there with no node_modules in reach: server, CLI walkthrough,
 * pipelining, restart, and refusal of a wrong HSM key.
 */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import https from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { decode } from "../../lib/wire/proto.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { errMessage, type FileSnapshot, framesOf, kesEncrypt, postNative, redactedOutput, replyFrames, snapshotDir, stopWithin } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const source = path.resolve(ROOT, process.env.KMS_BINARY || "dist/kms");
const skip = existsSync(source) ? false : `no compiled binary at ${path.relative(ROOT, source)}: run ./compile.sh first`;

let home: string;
let binary: string;
let env: Record<string, string>;
let dir: string;
let hsmKey: string;
let server: KmsServer;
const ciphertexts: Array<{ key: string; context: string; plaintext: string; ct: string }> = [];

/** Starts the copied binary as a server, from its own directory. */
function start(): Promise<KmsServer> {
  return startServer({ binary, dir, hsmKey, cwd: home, env });
}

/** Runs the copied binary's CLI against the current server. */
function kms(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string> } = {}): Promise<RunResult> {
  return runKms(args, { ...env, ...server.env(), ...opts.env }, { binary, cwd: home, input: opts.input });
}

async function ok(args: string[], opts: { input?: string | Uint8Array } = {}): Promise<string> {
  const r = await kms(args, opts);
  assert.equal(r.code, 0, `kms ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe("compiled binary", () => {
  before(async () => {
    if (skip) {
      console.warn(`tests/binary skipped: ${skip}`);
      return;
    }
    home = tempDir("kms-binary-");
    binary = path.join(home, "kms");
    copyFileSync(source, binary);
    chmodSync(binary, 0o755);
    // Nothing of the repository on PATH (node_modules/.bin holds bun) and no module paths.
    const pathDirs = (process.env.PATH ?? "").split(path.delimiter).filter((p) => p && !path.resolve(p).startsWith(ROOT));
    env = { PATH: pathDirs.join(path.delimiter), NODE_PATH: "", BUN_INSTALL: "" };
    dir = path.join(home, "data");
    hsmKey = SoftHsm.generate();
    server = await start();
  });
  after(cleanup);

  it("runs from a directory outside the repository with no node_modules in reach", { skip }, async () => {
    assert.ok(!path.resolve(home).startsWith(ROOT), "the copy lives outside the repository");
    for (let d = home; ; d = path.dirname(d)) {
      assert.ok(!existsSync(path.join(d, "node_modules")), `no node_modules in ${d}`);
      if (path.dirname(d) === d) break;
    }
    const version = await runKms(["--version"], env, { binary, cwd: home });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^kms \d+\.\d+\.\d+/);
    const help = await runKms(["--help"], env, { binary, cwd: home });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage/);
    assert.match(server.output(), /Listening on\s+https:\/\/127\.0\.0\.1:\d+/);
  });

  it("CLI walkthrough: ls, add-enclave, add-key, stat-key, keygen, encrypt/decrypt, import-key, mac", { skip }, async () => {
    assert.match(await ok(["ls"]), /Leader/);
    assert.match(await ok(["add-enclave", "bin"]), /Created enclave bin/);
    assert.match(await ok(["add-key", "-e", "bin", "app"]), /Created key app v1/);
    assert.match(await ok(["add-key", "-e", "bin", "--type", "ChaCha20", "cc"]), /Created key cc v1/);
    const stat = JSON.parse(await ok(["stat-key", "-e", "bin", "app", "--json"]));
    assert.deepEqual([stat.name, stat.version, stat.type], ["app", 1, "AES256"]);

    const dek = JSON.parse(await ok(["keygen", "-e", "bin", "--context", "bucket/object", "app", "--json"]));
    assert.equal(Buffer.from(dek.plaintext, "base64").length, 32);
    const opened = JSON.parse(await ok(["decrypt", "-e", "bin", "--context", "bucket/object", "app", dek.ciphertext, "--json"]));
    assert.equal(opened.plaintext, dek.plaintext, "the DEK ciphertext decrypts to the DEK");

    for (const key of ["app", "cc"]) {
      const ct = (await ok(["encrypt", "-e", "bin", "--context", "ctx", key, `hello from the binary (${key})`])).trim();
      assert.equal(await ok(["decrypt", "-e", "bin", "--context", "ctx", key, ct]), `hello from the binary (${key})\n`);
      const wrong = await kms(["decrypt", "-e", "bin", "--context", "other", key, ct]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /invalid ciphertext/);
      ciphertexts.push({ key, context: "ctx", plaintext: `hello from the binary (${key})`, ct });
    }

    const material = randomBytes(32);
    await ok(["import-key", "-e", "bin", "imported", "-"], { input: material.toString("base64") });
    const kes = kesEncrypt("AES256", material, Buffer.from("from KES"), Buffer.from("k"));
    assert.equal(await ok(["decrypt", "-e", "bin", "--context", "k", "imported", Buffer.from(kes).toString("base64")]), "from KES\n");

    const mac = (await ok(["mac", "-e", "bin", "app", "message"])).trim();
    assert.equal(Buffer.from(mac, "base64").length, 32);
    assert.equal((await ok(["mac", "-e", "bin", "app", "message"])).trim(), mac);

    const missing = await kms(["stat-key", "-e", "bin", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /key does not exist/);
    const usage = await kms(["add-key"]);
    assert.equal(usage.code, 2);
  });

  it("pipelines 1,000 GENERATE frames in one request, answered in order", { skip }, async () => {
    const n = 1000;
    const gen = await postNative(server, "bin", framesOf(Array.from({ length: n }, (_, i) => ({
      id: 207, request: "GenerateKeyRequest", message: { name: "app", associated_data: Buffer.from(`obj-${i}`), length: 1 + (i % 50) },
    }))));
    assert.equal(gen.status, 200, errMessage(gen));
    assert.equal(gen.headers["content-length"], String(gen.body.length));
    const replies = replyFrames(gen.body).map((f) => decode("GenerateKeyResponse", f.payload));
    assert.equal(replies.length, n);
    replies.forEach((r, i) => assert.equal((r.plaintext as Uint8Array).length, 1 + (i % 50), `reply ${i} answers request ${i}`));
    const dec = await postNative(server, "bin", framesOf(replies.map((r, i) => ({
      id: 206, request: "DecryptRequest", message: { name: "app", ciphertext: r.ciphertext, associated_data: Buffer.from(`obj-${i}`) },
    }))));
    assert.equal(dec.status, 200, errMessage(dec));
    const opened = replyFrames(dec.body).map((f) => decode("DecryptResponse", f.payload));
    opened.forEach((o, i) => {
      assert.ok(Buffer.from(o.plaintext as Uint8Array).equals(Buffer.from(replies[i].plaintext as Uint8Array)), `DEK ${i}`);
    });
  });

  it("metrics (prom-client), stat, logs and the audit trail work in the binary; restart --self re-executes it", { skip }, async () => {
    const metrics = await ok(["metrics"]);
    assert.match(metrics, /^kms_build_info\{version="[\d.]+",runtime="bun [\d.]+"\} 1$/m);
    assert.match(metrics, /^kms_commands_total\{api="native",command="KEY:GENERATE",id="207",outcome="ok"\} [1-9]\d*$/m);
    assert.match(await ok(["stat"]), /^Role\s+Leader; 1 node$/m);
    assert.match(await ok(["logs"]), / kms: kms [\d.]+ serving /);
    const pid = server.process.pid;
    assert.match(await ok(["restart", "--self"]), /^Restarted node 0 \(127\.0\.0\.1:\d+\); 1 node in [\d.]+ s$/m);
    assert.equal(server.process.exitCode, null, "the same process runs on");
    assert.equal(server.process.pid, pid);
    assert.match(await ok(["audit", "verify", "--open", dir]), /^OK: \d+ records in 1 file/m);
  });

  it("stops on SIGTERM and restarts with its state intact", { skip }, async () => {
    const code = await stopWithin(server, "SIGTERM", 10_000);
    assert.equal(code, 0, `clean stop:\n${redactedOutput(server)}`);
    server = await start();
    assert.doesNotMatch(server.output(), /new single-node cluster/);
    const keys = JSON.parse(await ok(["ls-key", "-e", "bin", "--json"])).map((k: { name: string }) => k.name);
    assert.deepEqual(keys, ["app", "cc", "imported"]);
    for (const c of ciphertexts) {
      assert.equal(await ok(["decrypt", "-e", "bin", "--context", c.context, c.key, c.ct]), `${c.plaintext}\n`);
    }
  });

  it("serves with --threads 2: the serving thread's module is inside the binary", { skip }, async () => {
    assert.equal(await stopWithin(server, "SIGTERM", 10_000), 0);
    server = await startServer({ binary, dir, hsmKey, cwd: home, env, extraArgs: ["--threads", "2"] });
    const credentials = clientCredentials(parseApiKey(server.apiKey));
    const threads = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      const r = await postNative(server, "bin", framesOf([{ id: 207, request: "GenerateKeyRequest", message: { name: "app" } }]), { agent, credentials });
      agent.destroy();
      assert.equal(r.status, 200, r.body.toString());
      // Each thread has its own request-id prefix.
      threads.add(String(r.headers["x-request-id"]).split("-")[0]);
    }
    assert.equal(threads.size, 2, redactedOutput(server));
  });

  it("refuses a wrong HSM key and leaves the data directory unchanged", { skip }, async () => {
    const code = await stopWithin(server, "SIGTERM", 10_000);
    assert.equal(code, 0, `clean stop:\n${redactedOutput(server)}`);
    const asObject = (m: Map<string, FileSnapshot>) => Object.fromEntries(m);
    const before = asObject(snapshotDir(dir));
    const r = await runKms(["server", "--addr", "127.0.0.1:0", dir], { ...env, MINIO_KMS_HSM_KEY: SoftHsm.generate() }, { binary, cwd: home, timeoutMs: 20_000 });
    assert.doesNotMatch(r.stdout, /Listening on/);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, 128, "it exited on its own");
    assert.match(r.stderr, /the HSM key does not match this data directory/);
    assert.deepEqual(asObject(snapshotDir(dir)), before);
  });
});
