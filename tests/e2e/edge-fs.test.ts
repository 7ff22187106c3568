/**
 * `kms edge` with the fs key store, end to end: a real process with real
 * mTLS, client certificates made here, KES's config format, MinIO's call
 * sequence, policies, strangers, restart with the store kept, SIGHUP reload,
 * KES interoperability of stored keys and ciphertexts, and bad inputs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  b64, cleanup, type EdgeProcess, kes, MINIO_CONTEXT, minioSequence, newClientId, startEdge, tempDir, unb64, waitFor, writeServerTls,
} from "../helpers/kes.ts";
import { kesAesDecrypt, kesAesEncrypt, kesLegacyJsonKey, kesStoredKey } from "../helpers/kes-format.ts";
import { runKms } from "../helpers/kms.ts";
import { openStream } from "../helpers/stream.ts";

const admin = newClientId();
const minio = newClientId();
const app = newClientId();
const stranger = newClientId();

let dir: string, storeDir: string, configFile: string, ca: string;
let edge: EdgeProcess;

function config(opts: { minioAllow?: string[]; appDeny?: string[]; audit?: boolean } = {}): string {
  const allow = opts.minioAllow ?? ["/v1/key/create/minio-*", "/v1/key/generate/minio-*", "/v1/key/decrypt/minio-*", "/v1/key/list/*", "/v1/status", "/v1/metrics", "/v1/identity/self/describe"];
  return `# A KES config: the same file works with KES.
address: 0.0.0.0:7373
admin:
  identity: \${EDGE_ADMIN_IDENTITY}
tls:
  key: ${path.join(dir, "server.key")}
  cert: ${path.join(dir, "server.crt")}
cache:
  expiry:
    any: 5m0s
    unused: 20s
    offline: 0s
log:
  error: on
  audit: ${opts.audit ? "on" : "off"}
policy:
  minio:
    allow:
${allow.map((a) => `    - ${a}`).join("\n")}
    identities:
    - ${minio.hex}
  app:
    allow:
    - /v1/key/*
    deny:
${(opts.appDeny ?? ["/v1/key/delete/*", "/v1/key/decrypt/secret-*"]).map((d) => `    - ${d}`).join("\n")}
    identities:
    - \${EDGE_APP_IDENTITY}
keys:
  - name: preset-key
keystore:
  fs:
    path: ${storeDir}
`;
}

const env = () => ({ EDGE_ADMIN_IDENTITY: admin.hex, EDGE_APP_IDENTITY: app.hex });

describe("kms edge with the fs key store", () => {
  before(async () => {
    dir = tempDir("kms-edge-fs-");
    storeDir = path.join(dir, "keys");
    ca = writeServerTls(dir).cert;
    configFile = path.join(dir, "kes.yml");
    writeFileSync(configFile, config());
    edge = await startEdge({ configFile, ca, env: env(), extraArgs: ["--audit-trail", path.join(dir, "audit")] });
  });
  after(cleanup);

  it("answers MinIO's KES call sequence", async () => {
    await minioSequence(edge, minio, "minio-default-key", assert);
  });

  // After the sequence above: the key exists.
  it("streams KES's audit and error logs, keeps a hash-chained trail and counts in metrics (issue 13)", async () => {
    const audit = await openStream({ port: edge.port, ca }, { path: "/v1/log/audit", credentials: admin });
    assert.equal(audit.status, 200);
    assert.equal(audit.headers["content-type"], "application/x-ndjson");
    assert.equal((await kes(edge, "POST", "/v1/key/generate/minio-default-key", { client: minio, body: { context: MINIO_CONTEXT } })).status, 200);
    const line = await waitFor(() => audit.bytes().toString().split("\n").find((l) => l.includes("/v1/key/generate/minio-default-key")), "the audit stream's line");
    assert.equal(JSON.parse(line).request.identity, minio.hex);
    audit.close();
    const refused = await openStream({ port: edge.port, ca }, { path: "/v1/log/error", credentials: app });
    assert.equal(refused.status, 403, "only a policy that allows /v1/log/error may read it");
    refused.close();
    const metrics = await kes(edge, "GET", "/v1/metrics", { client: admin });
    assert.match(metrics.text, /^kes_log_audit_events [1-9]\d*$/m);
    assert.match(metrics.text, /^kms_keystore_unreachable 0$/m);
    const trail = await waitFor(async () => {
      const r = await runKms(["audit", "verify", "--open", path.join(dir, "audit")]);
      return r.code === 0 && /KEY:GENERATE/.test(readFileSync(path.join(dir, "audit", "audit-00000001.jsonl"), "utf8")) ? r.stdout : undefined;
    }, "the edge's audit trail to hold the request");
    assert.match(trail, /^OK: \d+ records in 1 file/m);
  });

  it("created the config's keys at start, as files of mode 0600 in a 0755 directory", () => {
    assert.equal(statSync(storeDir).mode & 0o777, 0o755);
    const files = readdirSync(storeDir).sort();
    assert.ok(files.includes("preset-key") && files.includes("minio-default-key"), files.join(","));
    for (const f of files) assert.equal(statSync(path.join(storeDir, f)).mode & 0o777, 0o600, f);
    // KES's format: base64 of a protobuf KeyVersion whose first field is the SecretKey message.
    const raw = Buffer.from(readFileSync(path.join(storeDir, "preset-key"), "utf8"), "base64");
    assert.equal(raw[0], 0x0a);
  });

  it("applies the config's policies: allow patterns, deny winning over allow, one policy per identity", async () => {
    // minio: only its own prefix, only the allowed operations.
    assert.equal((await kes(edge, "POST", "/v1/key/create/other-key", { client: minio })).status, 403);
    assert.equal((await kes(edge, "POST", "/v1/key/encrypt/minio-default-key", { client: minio, body: { plaintext: b64("x") } })).status, 403);
    const denied = await kes(edge, "DELETE", "/v1/key/delete/minio-default-key", { client: minio });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json, { message: "not authorized: insufficient permissions" });
    assert.equal((await kes(edge, "GET", "/v1/status", { client: minio })).status, 200);

    // app: /v1/key/* minus deletes and decrypts of secret-*.
    assert.equal((await kes(edge, "POST", "/v1/key/create/secret-1", { client: app })).status, 200);
    const ct = await kes(edge, "POST", "/v1/key/encrypt/secret-1", { client: app, body: { plaintext: b64("hello"), context: MINIO_CONTEXT } });
    assert.equal(ct.status, 200, ct.text);
    assert.equal((await kes(edge, "POST", "/v1/key/decrypt/secret-1", { client: app, body: { ciphertext: ct.json.ciphertext, context: MINIO_CONTEXT } })).status, 403);
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/secret-1", { client: app })).status, 403);
    assert.equal((await kes(edge, "GET", "/v1/status", { client: app })).status, 403, "status is not under /v1/key/");

    // The admin bypasses policies.
    const opened = await kes(edge, "POST", "/v1/key/decrypt/secret-1", { client: admin, body: { ciphertext: ct.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(opened.status, 200);
    assert.equal(Buffer.from(unb64(opened.json.plaintext)).toString(), "hello");
    assert.equal((await kes(edge, "DELETE", "/v1/key/delete/secret-1", { client: admin })).status, 200);
    assert.equal((await kes(edge, "GET", "/v1/key/describe/secret-1", { client: admin })).status, 404);
  });

  it("refuses strangers and callers without a certificate with 403, before anything else", async () => {
    for (const client of [stranger, null]) {
      for (const [method, p, body] of [
        ["POST", "/v1/key/generate/minio-default-key", { context: "" }],
        ["POST", "/v1/key/create/minio-new", undefined],
        ["GET", "/v1/key/list/*", undefined],
        ["POST", "/v1/key/generate/-invalid-", { context: "" }],
        ["GET", "/v1/status", undefined],
      ] as const) {
        const r = await kes(edge, method, p, { client, body });
        assert.equal(r.status, 403, `${method} ${p} by ${client ? "stranger" : "no certificate"}: ${r.text}`);
        assert.deepEqual(r.json, { message: "not authorized: insufficient permissions" });
      }
    }
    // /version and /v1/ready need no identity.
    assert.equal((await kes(edge, "GET", "/version", { client: null })).status, 200);
    assert.equal((await kes(edge, "GET", "/v1/ready", { client: null })).status, 200);
  });

  it("describes, lists, HMACs and reports status with KES's shapes", async () => {
    const d = await kes(edge, "GET", "/v1/key/describe/minio-default-key", { client: admin });
    assert.equal(d.status, 200);
    assert.equal(d.json.name, "minio-default-key");
    assert.equal(d.json.algorithm, "AES256");
    assert.equal(d.json.created_by, minio.hex);
    assert.ok(Math.abs(Date.parse(d.json.created_at) - Date.now()) < 120_000);

    const all = await kes(edge, "GET", "/v1/key/list/*", { client: minio });
    assert.equal(all.status, 200);
    assert.deepEqual(all.json, { names: ["minio-default-key", "preset-key"], continue_at: "" });
    assert.deepEqual((await kes(edge, "GET", "/v1/key/list/minio-", { client: admin })).json.names, ["minio-default-key"]);
    assert.deepEqual((await kes(edge, "GET", "/v1/key/list/pre*", { client: admin })).json.names, ["preset-key"]);

    const h1 = await kes(edge, "POST", "/v1/key/hmac/preset-key", { client: admin, body: { message: b64("message") } });
    const h2 = await kes(edge, "POST", "/v1/key/hmac/preset-key", { client: admin, body: { message: b64("message") } });
    assert.equal(h1.status, 200);
    assert.equal(unb64(h1.json.hmac).length, 32);
    assert.equal(h1.json.hmac, h2.json.hmac);

    const s = await kes(edge, "GET", "/v1/status", { client: admin });
    assert.equal(s.status, 200);
    for (const f of ["version", "os", "arch", "uptime", "num_cpu", "num_cpu_used", "mem_heap_used", "mem_stack_used", "keystore_latency", "keystore_unreachable"]) {
      assert.ok(f in s.json, `status has ${f}`);
    }
    assert.equal(s.json.keystore_unreachable, false);

    const self = await kes(edge, "GET", "/v1/identity/self/describe", { client: minio });
    assert.equal(self.status, 200);
    assert.equal(self.json.identity, minio.hex);
    assert.equal(self.json.policy, "minio");
    assert.equal(self.json.admin, false);

    const api = await kes(edge, "GET", "/v1/api", { client: null });
    assert.ok(api.json.some((r: { path: string }) => r.path === "/v1/key/generate/"));
    const metrics = await kes(edge, "GET", "/v1/metrics", { client: admin });
    assert.match(metrics.text, /kes_http_request_success \d+/);
  });

  it("reads keys KES wrote (protobuf and legacy JSON) and interoperates on ciphertexts", async () => {
    const master = new Uint8Array(randomBytes(32)), legacy = new Uint8Array(randomBytes(32));
    writeFileSync(path.join(storeDir, "from-kes"), kesStoredKey(master, { hmacKey: new Uint8Array(randomBytes(32)), createdBy: admin.hex }), { mode: 0o600 });
    writeFileSync(path.join(storeDir, "from-old-kes"), kesLegacyJsonKey(legacy), { mode: 0o600 });
    const ctx = new TextEncoder().encode('{"bucket":"b/o"}');
    for (const [name, key] of [["from-kes", master], ["from-old-kes", legacy]] as const) {
      // KES made this ciphertext; the edge server opens it.
      const ct = kesAesEncrypt(key, new TextEncoder().encode("made by KES"), ctx);
      const r = await kes(edge, "POST", `/v1/key/decrypt/${name}`, { client: admin, body: { ciphertext: b64(ct), context: b64(ctx) } });
      assert.equal(r.status, 200, r.text);
      assert.equal(Buffer.from(unb64(r.json.plaintext)).toString(), "made by KES");
      // The edge server made this one; KES's algorithm opens it.
      const g = await kes(edge, "POST", `/v1/key/generate/${name}`, { client: admin, body: { context: b64(ctx) } });
      assert.equal(g.status, 200);
      assert.equal(unb64(g.json.ciphertext).length, 32 + 44);
      assert.deepEqual(kesAesDecrypt(key, unb64(g.json.ciphertext), ctx), unb64(g.json.plaintext));
    }
    assert.equal((await kes(edge, "GET", "/v1/key/describe/from-kes", { client: admin })).json.created_by, admin.hex);
  });

  it("rejects bad inputs with KES's error format", async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ["POST", "/v1/key/create/-leading-dash", undefined, 400, /invalid key name/],
      ["POST", "/v1/key/create/trailing-", undefined, 400, /invalid key name/],
      ["POST", `/v1/key/create/${"a".repeat(81)}`, undefined, 400, /invalid key name/],
      ["POST", "/v1/key/create/dots.not.allowed", undefined, 400, /invalid key name/],
      ["POST", "/v1/key/create/a%2Fb", undefined, 400, /invalid key name/],
      ["POST", "/v1/key/create/%E0%A4%A", undefined, 400, /invalid key name/],
      ["GET", "/v1/key/list/%ZZ", undefined, 400, /invalid prefix/],
      ["POST", "/v1/key/create/%2541", undefined, 400, /invalid key name/],
      ["POST", "/v1/key/generate/preset-key", "{not json", 400, /malformed JSON/],
      ["POST", "/v1/key/generate/preset-key", "[1,2]", 400, /expected a JSON object/],
      ["POST", "/v1/key/generate/preset-key", { context: "not base64!" }, 400, /invalid context/],
      ["POST", "/v1/key/generate/preset-key", { context: 7 }, 400, /invalid context/],
      ["POST", "/v1/key/encrypt/preset-key", {}, 400, /invalid plaintext/],
      ["POST", "/v1/key/decrypt/preset-key", { ciphertext: b64("short") }, 400, /decryption failed: ciphertext is not authentic/],
      ["POST", "/v1/key/import/imported", { key: b64(new Uint8Array(31)), cipher: "AES256" }, 400, /32 bytes/],
      ["POST", "/v1/key/import/imported", { key: b64(new Uint8Array(32)), cipher: "DES" }, 400, /invalid cipher/],
      ["GET", "/v1/key/list/bad.prefix", undefined, 400, /invalid prefix/],
      ["GET", "/v1/key/describe/no-such-key", undefined, 404, /^key does not exist$/],
      ["DELETE", "/v1/key/delete/no-such-key", undefined, 404, /^key does not exist$/],
    ];
    for (const [method, p, body, status, message] of cases) {
      const r = await kes(edge, method, p, { client: admin, body });
      assert.equal(r.status, status, `${method} ${p} ${JSON.stringify(body)}: ${r.text}`);
      assert.match(String(r.headers["content-type"]), /application\/json/);
      assert.deepEqual(Object.keys(r.json), ["message"]);
      assert.match(r.json.message, message, `${method} ${p}`);
    }
    // Oversized bodies: 413, before the body is read.
    const big = await kes(edge, "POST", "/v1/key/encrypt/preset-key", { client: admin, body: { plaintext: b64(new Uint8Array(1 << 20)) } });
    assert.equal(big.status, 413);
    assert.match(big.json.message, /too large/);
    // Wrong methods: 405 with Allow.
    for (const [method, p, allow] of [
      ["GET", "/v1/key/generate/preset-key", "PUT, POST"],
      ["POST", "/v1/key/describe/preset-key", "GET"],
      ["GET", "/v1/key/delete/preset-key", "DELETE"],
      ["DELETE", "/v1/status", "GET"],
    ] as const) {
      const r = await kes(edge, method, p, { client: admin });
      assert.equal(r.status, 405, `${method} ${p}`);
      assert.equal(r.headers.allow, allow);
      assert.deepEqual(r.json, { message: "method not allowed" });
    }
    // The import that failed validation created nothing.
    assert.equal((await kes(edge, "GET", "/v1/key/describe/imported", { client: admin })).status, 404);
  });

  it("imports keys (PUT works like POST) and uses them", async () => {
    const key = new Uint8Array(randomBytes(32));
    const r = await kes(edge, "PUT", "/v1/key/import/imported-key", { client: admin, body: { key: b64(key), cipher: "AES256" } });
    assert.equal(r.status, 200, r.text);
    const ct = kesAesEncrypt(key, new TextEncoder().encode("imported"), new Uint8Array(0));
    const d = await kes(edge, "PUT", "/v1/key/decrypt/imported-key", { client: admin, body: { ciphertext: b64(ct) } });
    assert.equal(Buffer.from(unb64(d.json.plaintext)).toString(), "imported");
  });

  it("keeps its keys across a restart (the state is the fs store)", async () => {
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-default-key", { client: minio, body: { context: MINIO_CONTEXT } });
    assert.equal(await edge.stop(), 0);
    assert.match(edge.output(), /kms edge: stopped/);
    edge = await startEdge({ configFile, ca, env: env() });
    const d = await kes(edge, "POST", "/v1/key/decrypt/minio-default-key", { client: minio, body: { ciphertext: dek.json.ciphertext, context: MINIO_CONTEXT } });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.plaintext, dek.json.plaintext);
    assert.equal((await kes(edge, "POST", "/v1/key/create/preset-key", { client: admin })).status, 400, "preset-key still exists");
  });

  it("reloads policies on SIGHUP, and keeps the old config when the new one is invalid", async () => {
    assert.equal((await kes(edge, "POST", "/v1/key/encrypt/minio-default-key", { client: minio, body: { plaintext: b64("x") } })).status, 403);
    writeFileSync(configFile, config({ minioAllow: ["/v1/key/encrypt/minio-*"] }));
    assert.match(await edge.reload(), /^reloaded/);
    assert.equal((await kes(edge, "POST", "/v1/key/encrypt/minio-default-key", { client: minio, body: { plaintext: b64("x") } })).status, 200);
    assert.equal((await kes(edge, "POST", "/v1/key/generate/minio-default-key", { client: minio, body: {} })).status, 403, "no longer allowed");

    // Audit lines: one JSON object per request in KES's form, with the caller's KES identity, never key material.
    writeFileSync(configFile, config({ minioAllow: ["/v1/key/encrypt/minio-*", "/v1/key/generate/minio-*"], audit: true }));
    assert.match(await edge.reload(), /^reloaded/);
    const dek = await kes(edge, "POST", "/v1/key/generate/minio-default-key", { client: minio, body: { context: MINIO_CONTEXT } });
    const line = await waitFor(() => edge.output().split("\n").find((l) => l.includes('"path":"/v1/key/generate/minio-default-key"')), "an audit line");
    const entry = JSON.parse(line);
    assert.equal(entry.request.identity, minio.hex);
    assert.equal(entry.request.ip, "127.0.0.1");
    assert.equal(entry.response.code, 200);
    assert.ok(Number.isInteger(entry.response.time), "the response time in nanoseconds");
    assert.ok(!edge.output().includes(dek.json.plaintext), "no DEK in the log");

    writeFileSync(configFile, "policy: [this is not a config");
    assert.match(await edge.reload(), /^reload failed/);
    assert.equal((await kes(edge, "POST", "/v1/key/encrypt/minio-default-key", { client: minio, body: { plaintext: b64("x") } })).status, 200, "old config kept");
    writeFileSync(configFile, config());
    assert.match(await edge.reload(), /^reloaded/);
  });
});

describe("kms edge with tls.auth: only verified client certificates count", () => {
  after(cleanup);
  it("accepts a client whose certificate chains to tls.ca and refuses one that does not, though both are in a policy", async () => {
    const d = tempDir("kms-edge-auth-");
    const { cert } = writeServerTls(d);
    const trusted = newClientId(), untrusted = newClientId();
    writeFileSync(path.join(d, "clients.crt"), trusted.cert);
    writeFileSync(path.join(d, "kes.yml"), `tls:
  key: server.key
  cert: server.crt
  auth: on
  ca: clients.crt
policy:
  all:
    allow: [/v1/key/*]
    identities: [${trusted.hex}, ${untrusted.hex}]
keystore:
  fs: {path: keys}
`);
    const e = await startEdge({ configFile: "kes.yml", cwd: d, ca: cert });
    assert.equal((await kes(e, "POST", "/v1/key/create/k", { client: trusted })).status, 200);
    assert.equal((await kes(e, "POST", "/v1/key/generate/k", { client: untrusted, body: {} })).status, 403);
  });
});
