/**
 * Durability: state survives a clean stop (SIGTERM, exit 0) and a restart
 * from the same data directory and HSM key; a write acknowledged right before
 * kill -9 is there after the restart; and shutdown does not hang on idle
 * keep-alive connections.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { expectKmsError, framesOf, kesEncrypt, listenerClosed, oneShotClient, redactedOutput, stopWithin, waitForExit } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

let dir: string;
let hsmKey: string;
let server: KmsServer;
let certBefore: string;

/** A CLI run against the current server that must succeed; returns stdout (parsed with --json). */
async function kms(args: string[]): Promise<any> {
  const r: RunResult = await runKms(args, server.env());
  assert.equal(r.code, 0, `kms ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return args.includes("--json") ? JSON.parse(r.stdout) : r.stdout;
}

/** What a restart must preserve. Uses one connection per call, so nothing delays a later SIGTERM. */
async function observable() {
  const c = oneShotClient(server);
  const enclaves = (await c.listEnclaves("dur-")).enclaves;
  const keys = (await c.listKeys("dur-a")).keys;
  const status = await c.clusterStatus() as { nodes_up: Record<string, { commit: number }> };
  const commit = status.nodes_up["0"].commit;
  const versions = await Promise.all(([["aes", [1, 2]], ["cc", [1]], ["three", [1, 3]], ["imp", [1]]] as const)
    .flatMap(([name, vs]) => vs.map((v) => c.keyStatus("dur-a", name, v))));
  return { enclaves, keys, versions, commit };
}

const importBytes = randomBytes(32);
/** Ciphertexts made before the stop, with what they must decrypt to. */
const ciphertexts: Array<{ key: string; ad: string; expected: Buffer; ct: Uint8Array }> = [];

describe("durability", () => {
  before(async () => {
    dir = path.join(tempDir("kms-durability-"), "data");
    server = await startServer({ dir });
    hsmKey = server.hsmKey;
    certBefore = readFileSync(server.caFile, "utf8");
  });
  after(cleanup);

  let before1: Awaited<ReturnType<typeof observable>>;

  it("state made through the CLI and the protocol is in place before the stop", async () => {
    // Some writes through the CLI (separate processes)...
    await kms(["add-enclave", "dur-a"]);
    const keyFile = path.join(tempDir(), "imp.key");
    writeFileSync(keyFile, importBytes);
    await kms(["import-key", "-e", "dur-a", "imp", keyFile]);
    await kms(["add-key", "-e", "dur-a", "aes"]);
    await kms(["add-key", "-e", "dur-a", "--version", "aes"]);
    // ...the rest over the protocol, one connection per call.
    const c = oneShotClient(server);
    await c.createEnclave("dur-b");
    await c.createEnclave("dur-c");
    await c.createKey("dur-a", "cc", "ChaCha20");
    await c.createKey("dur-a", "three");
    await c.createKey("dur-a", "three", "", true);
    await c.createKey("dur-a", "three", "", true);
    await c.deleteKey("dur-a", "three", 2);
    await c.createKey("dur-a", "top");
    await c.createKey("dur-a", "top", "", true);
    await c.createKey("dur-a", "top", "", true);
    await c.deleteKey("dur-a", "top"); // the latest, v3
    await c.createKey("dur-b", "doomed");
    await c.deleteEnclave("dur-b");

    for (const [key, version, ad] of [["aes", 1, "ctx-1"], ["aes", 2, "ctx-2"], ["cc", 0, ""], ["three", 1, "t1"], ["three", 3, "t3"]] as const) {
      const plaintext = Buffer.from(`plaintext of ${key} v${version}`);
      const r = await c.encrypt("dur-a", key, plaintext, Buffer.from(ad), version);
      ciphertexts.push({ key, ad, expected: plaintext, ct: r.ciphertext as Uint8Array });
    }
    const dek = await c.generate("dur-a", "aes", Buffer.from("dek"));
    ciphertexts.push({ key: "aes", ad: "dek", expected: Buffer.from(dek.plaintext as Uint8Array), ct: dek.ciphertext as Uint8Array });
    const kes = kesEncrypt("AES256", importBytes, Buffer.from("made by KES"), Buffer.from("kes-ctx"));
    ciphertexts.push({ key: "imp", ad: "kes-ctx", expected: Buffer.from("made by KES"), ct: kes });

    before1 = await observable();
    assert.deepEqual((before1.enclaves as Array<{ name: string }>).map((e) => e.name), ["dur-a", "dur-c"]);
    assert.equal(before1.commit, 17, "17 successful writes, 17 commits");
    assert.deepEqual((before1.keys as Array<{ name: string; version: number }>).map((k) => [k.name, k.version]), [["aes", 2], ["cc", 1], ["imp", 1], ["three", 3], ["top", 2]]);
  });

  it("SIGTERM stops the server cleanly with exit code 0", async () => {
    const code = await stopWithin(server, "SIGTERM", 10_000);
    assert.equal(code, 0, `exit after SIGTERM:\n${redactedOutput(server)}`);
    assert.match(server.output(), /kms: stopped/);
  });

  it("after a restart everything is intact and old ciphertexts decrypt", async () => {
    server = await startServer({ dir, hsmKey });
    assert.doesNotMatch(server.output(), /new single-node cluster/, "a restart does not make a new cluster");
    assert.ok(!server.output().includes(server.apiKey), "a restart does not print the admin API key again");
    assert.equal(readFileSync(server.caFile, "utf8"), certBefore, "the server keeps its TLS certificate across restarts");
    assert.deepEqual(await observable(), before1);

    // Through the CLI once: a separate process sees the old state...
    const viaCli = await kms(["decrypt", "-e", "dur-a", "--context", ciphertexts[0].ad, ciphertexts[0].key, Buffer.from(ciphertexts[0].ct).toString("base64"), "--json"]);
    assert.ok(Buffer.from(viaCli.plaintext, "base64").equals(ciphertexts[0].expected), "the CLI decrypts a ciphertext from before the restart");
    // ...and every ciphertext made before the stop opens with version 0.
    const c = oneShotClient(server);
    for (const x of ciphertexts) {
      const r = await c.decrypt("dur-a", x.key, x.ct, Buffer.from(x.ad));
      assert.ok(Buffer.from(r.plaintext as Uint8Array).equals(x.expected), `${x.key} (${x.ad || "no context"}) decrypts after restart`);
    }
    const client = server.client();
    await expectKmsError(client.keyStatus("dur-a", "three", 2), 404, "key does not exist");
    await expectKmsError(client.enclaveStatus("dur-b"), 404, "enclave does not exist");
    // Version numbering continues where it was: never reuses a number.
    await client.createKey("dur-a", "three", "", true);
    assert.equal((await client.keyStatus("dur-a", "three")).version, 4);
    // The commit counter went on from where it was.
    const status = await client.clusterStatus() as { nodes_up: Record<string, { commit: number }> };
    assert.equal(status.nodes_up["0"].commit, before1.commit + 1);
    // Deleting the latest version before the restart does not free its number either.
    await client.createKey("dur-a", "top", "", true);
    assert.equal((await client.keyStatus("dur-a", "top")).version, 4, "v3 was deleted before the restart: the next version is 4");
  });

  it("writes acknowledged right before kill -9 are there after the restart", async () => {
    const client = server.client();
    // A burst of concurrent writes, all acknowledged...
    await Promise.all(Array.from({ length: 40 }, (_, i) => client.createKey("dur-c", `burst-${String(i).padStart(2, "0")}`)));
    // ...then a sequence of different kinds of writes, the last one immediately followed by kill -9.
    await client.createKey("dur-a", "aes", "", true); // aes v3
    await client.deleteKey("dur-a", "cc", 0, true);
    await client.createEnclave("dur-d");
    await client.importKey("dur-d", "imp", importBytes);
    const ct = (await client.encrypt("dur-a", "aes", Buffer.from("under v3"))).ciphertext as Uint8Array;
    await client.createKey("dur-d", "last");
    server.process.kill("SIGKILL");
    assert.equal(await server.stop(), 128, "the server was killed");

    server = await startServer({ dir, hsmKey });
    const after = server.client();
    const burst = (await after.listKeys("dur-c", "burst-")).keys as Array<{ name: string }>;
    assert.equal(burst.length, 40, "every acknowledged key of the burst survived");
    assert.equal((await after.keyStatus("dur-a", "aes")).version, 3);
    assert.equal(Buffer.from((await after.decrypt("dur-a", "aes", ct)).plaintext as Uint8Array).toString(), "under v3");
    await expectKmsError(after.keyStatus("dur-a", "cc"), 404, "key does not exist");
    assert.equal((await after.enclaveStatus("dur-d")).name, "dur-d");
    assert.equal((await after.keyStatus("dur-d", "last")).version, 1, "the last acknowledged write survived kill -9");
    const mac = async (enclave: string) => Buffer.from((await after.mac(enclave, "imp", Buffer.from("m"))).mac as Uint8Array);
    assert.ok((await mac("dur-d")).equals(await mac("dur-a")), "the imported key survived with its bytes");
  });

  it("SIGTERM stops the server even while a client holds an idle keep-alive connection", async () => {
    // MinIO keeps its connections to the KMS open; a stop must not wait for them.
    const agent = new https.Agent({ keepAlive: true, ...clientCredentials(parseApiKey(server.apiKey)), ca: server.ca });
    try {
      await new Promise<void>((resolve, reject) => {
        https.get({ host: "127.0.0.1", port: server.port, path: "/version", agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        }).on("error", reject);
      });
      const code = await stopWithin(server, "SIGTERM", 5_000);
      assert.equal(code, 0, "the server did not exit within 5 s of SIGTERM while a keep-alive connection was idle");
    } finally {
      agent.destroy();
    }
  });

  it("the state is intact after that stop too", async () => {
    server = await startServer({ dir, hsmKey });
    const c = oneShotClient(server);
    assert.equal(((await c.listKeys("dur-c", "burst-")).keys as unknown[]).length, 40);
    assert.equal((await c.keyStatus("dur-d", "last")).version, 1);
    assert.equal((await c.keyStatus("dur-a", "three")).version, 4);
  });

  it("SIGTERM during an in-flight request on a keep-alive connection: the request completes and the server exits", async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...clientCredentials(parseApiKey(server.apiKey)), ca: server.ca });
    try {
      const body = framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "last" } }]);
      // Expect: 100-continue lets the test know the server has the request's headers (the request is in flight).
      const req = https.request({
        host: "127.0.0.1", port: server.port, method: "POST", path: "/v1/kms/dur-d", agent,
        headers: { "content-type": "application/octet-stream", "content-length": String(body.length), expect: "100-continue" },
      });
      const continued = new Promise<void>((resolve) => req.on("continue", () => resolve()));
      const reply = new Promise<number>((resolve, reject) => {
        req.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
      });
      req.flushHeaders();
      await Promise.race([continued, new Promise((_, reject) => setTimeout(() => reject(new Error("no 100 Continue within 10 s")), 10_000))]);
      server.process.kill("SIGTERM");
      await listenerClosed(server.port); // the server is shutting down...
      req.end(body); // ...and only now does the request's body arrive
      assert.equal(await reply, 200, "the in-flight request is answered");
      const exit = await waitForExit(server, 5_000);
      assert.deepEqual(exit, { code: 0, signal: null }, "the server did not exit within 5 s of SIGTERM once its in-flight request on a keep-alive connection was answered");
    } finally {
      agent.destroy();
    }
  });

  it("SIGTERM right after the server says it is listening still stops it cleanly (exit 0), every time", async () => {
    // An orchestrator may stop a server the moment it is up: the signal handlers must be in place by then.
    const results: string[] = [];
    for (let i = 0; i < 8; i++) {
      server = await startServer({ dir, hsmKey });
      server.process.kill("SIGTERM");
      const exit = await waitForExit(server, 10_000);
      results.push(exit === "timeout" ? "timeout" : exit.signal ? `killed by ${exit.signal}` : `exit ${exit.code}`);
    }
    assert.deepEqual(results, Array(8).fill("exit 0"), "each immediate SIGTERM ends in a clean exit 0, not death by the signal");
  });
});
