/**
 * KES conformance with an independent client: tests/helpers/kesgo.ts behaves
 * as kes-go (MinIO's KES client) does and decodes replies into KES's
 * documented shapes. The same checks run against the stateful server's KES
 * API and against `kms edge`, over every KES route MinIO uses, in every
 * spelling kes-go sends (no trailing slash for an empty argument), and with
 * malformed bodies, which must be 400s in KES's error shape.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cleanup, clientIdOf, edgeConfigHead, type KesClientId, type KesTarget, newClientId, startEdge, tempDir, writeServerTls } from "../helpers/kes.ts";
import { expectKesError, KesGoClient } from "../helpers/kesgo.ts";
import { startServer } from "../helpers/kms.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const NOT_AUTHENTIC = "decryption failed: ciphertext is not authentic";

interface Subject {
  target: KesTarget;
  admin: KesClientId;
  minio: KesClientId;
  /** The KES path patterns the minio policy allows, as KES reports them. */
  minioAllow: string[];
}

/** The conformance checks, for one server. */
function conformance(name: string, setup: () => Promise<Subject>) {
  describe(name, () => {
    let s: Subject, admin: KesGoClient, minio: KesGoClient, anon: KesGoClient;
    before(async () => {
      s = await setup();
      admin = new KesGoClient(s.target, s.admin);
      minio = new KesGoClient(s.target, s.minio);
      anon = new KesGoClient(s.target, null);
    });
    after(cleanup);

    it("serves MinIO's calls as kes-go makes them, with KES's shapes and exact lengths", async () => {
      assert.equal(typeof await anon.version(), "string");
      assert.equal(await anon.isReady(), true);
      await admin.status();
      assert.match(await admin.metrics(), /^kes_http_request_success \d+$/m);

      // Start-up: generate on the default key, create it on "key does not exist".
      await expectKesError(minio.generateKey("minio-default"), 404, "key does not exist");
      await minio.createKey("minio-default");
      await expectKesError(minio.createKey("minio-default"), 400, "key already exists");
      const health = await minio.generateKey("minio-default", enc('{"healthcheck":""}'));
      assert.equal(health.plaintext.length, 32);
      const startup = await minio.generateKey("minio-default");
      assert.deepEqual(await minio.decrypt("minio-default", startup.ciphertext), startup.plaintext);
      const ctx = enc('{"bucket":"bucket/object"}');
      const dek = await minio.generateKey("minio-default", ctx);
      assert.deepEqual(await minio.decrypt("minio-default", dek.ciphertext, ctx), dek.plaintext);
      await expectKesError(minio.decrypt("minio-default", dek.ciphertext, enc('{"bucket":"bucket/other"}')), 400, NOT_AUTHENTIC);

      // Import (ChaCha20 and AES256), encrypt, decrypt, HMAC, describe, delete as the admin.
      await admin.importKey("imported-chacha", new Uint8Array(randomBytes(32)), "ChaCha20");
      await admin.importKey("imported-aes", new Uint8Array(randomBytes(32)), "AES256");
      const ct = await admin.encrypt("imported-chacha", enc("hello"), ctx);
      assert.equal(Buffer.from(await admin.decrypt("imported-chacha", ct, ctx)).toString(), "hello");
      const m1 = await admin.hmac("imported-aes", enc("message"));
      assert.equal(m1.length, 32);
      assert.deepEqual(await admin.hmac("imported-aes", enc("message")), m1, "HMAC is deterministic");
      assert.notDeepEqual(await admin.hmac("imported-aes", enc("other")), m1);
      const d = await admin.describeKey("imported-chacha");
      assert.equal(d.name, "imported-chacha");
      assert.equal(d.created_by, s.admin.hex);
      await admin.deleteKey("imported-aes");
      await expectKesError(admin.describeKey("imported-aes"), 404, "key does not exist");
      await expectKesError(admin.deleteKey("imported-aes"), 404, "key does not exist");
    });

    it("lists with an empty pattern (GET /v1/key/list), '*', a prefix, and with a trailing slash", async () => {
      for (const k of ["list-a", "list-b", "other-c", "minio-listed"]) await admin.createKey(k);
      const all = (await admin.listKeys("")).names;
      for (const k of ["list-a", "list-b", "other-c", "minio-listed"]) assert.ok(all.includes(k), `${k} listed by ListKeys("")`);
      assert.deepEqual((await admin.listKeys("*")).names, all);
      assert.deepEqual((await admin.listKeys("list-")).names, ["list-a", "list-b"]);
      assert.deepEqual((await admin.listKeys("list-*")).names, ["list-a", "list-b"]);
      assert.deepEqual(await admin.json("GET", "/v1/key/list/"), { names: all, continue_at: "" });
      // Paging: a limit, then the rest from continue_at.
      const first = (await admin.json("GET", "/v1/key/list?limit=1")) as { names: string[]; continue_at: string };
      assert.deepEqual(first.names, [all[0]]);
      assert.equal(first.continue_at, all[1]);
      // The minio identity may list (/v1/key/list/* on the edge, KEY:LIST minio-* on the stateful server):
      // the empty pattern is the same request as "*".
      assert.ok((await minio.listKeys("")).names.includes("minio-listed"));
    });

    it("answers fixed routes with and without a trailing slash, and refuses empty key names", async () => {
      for (const p of ["/v1/status/", "/v1/api/", "/v1/metrics/", "/v1/identity/self/describe/"]) {
        assert.equal((await admin.send("GET", p)).status, 200, p);
      }
      for (const [method, p] of [["POST", "/v1/key/create"], ["POST", "/v1/key/create/"], ["GET", "/v1/key/describe"], ["DELETE", "/v1/key/delete/"], ["POST", "/v1/key/generate"]]) {
        await expectKesError(admin.send(method, p, method === "POST" ? {} : undefined), 400, /invalid key name/);
      }
      await expectKesError(admin.send("DELETE", "/v1/key/create/x"), 405, "method not allowed");
      await expectKesError(anon.send("POST", "/v1/key/create"), 403, "not authorized: insufficient permissions");
    });

    it("describes the caller as KES does: admin bool, policy name, allow/deny rule sets, created_at", async () => {
      const a = await admin.describeSelf();
      assert.equal(a.identity, s.admin.hex);
      assert.equal(a.admin, true);
      assert.equal(a.policy, "");
      const m = await minio.describeSelf();
      assert.equal(m.identity, s.minio.hex);
      assert.equal(m.admin, false);
      assert.equal(m.policy, "minio");
      assert.deepEqual(Object.keys(m.allow as object).sort(), [...s.minioAllow].sort());
      assert.deepEqual(m.deny, { "/v1/key/generate/minio-forbidden": {} });
      await expectKesError(anon.send("GET", "/v1/identity/self/describe"), 403, "not authorized: insufficient permissions");
    });

    it("reads, describes and lists policies as KES does", async () => {
      assert.ok((await admin.listPolicies("")).names.includes("minio"));
      assert.deepEqual((await admin.listPolicies("mini")).names, ["minio"]);
      assert.deepEqual((await admin.listPolicies("zzz*")).names, []);
      const p = await admin.getPolicy("minio");
      assert.deepEqual(Object.keys(p.allow as object).sort(), [...s.minioAllow].sort());
      assert.deepEqual(p.deny, { "/v1/key/generate/minio-forbidden": {} });
      await admin.describePolicy("minio");
      await expectKesError(admin.getPolicy("nope"), 404, "policy does not exist");
      await expectKesError(admin.describePolicy("nope"), 404, "policy does not exist");
      await expectKesError(minio.getPolicy("minio"), 403, "not authorized: insufficient permissions");
    });

    it("answers malformed bodies with 400 in KES's error shape, never 500", async () => {
      await admin.createKey("bodies");
      const cases: Array<[string, unknown, RegExp]> = [
        ["/v1/key/import/imp-1", {}, /invalid key: missing/],
        ["/v1/key/import/imp-2", { cipher: "AES256" }, /invalid key: missing/],
        ["/v1/key/import/imp-3", { key: Buffer.from("short").toString("base64"), cipher: "AES256" }, /32 bytes/],
        ["/v1/key/import/imp-4", { key: 42 }, /invalid key/],
        ["/v1/key/import/imp-5", { key: null }, /invalid key/],
        ["/v1/key/import/imp-6", { key: randomBytes(32).toString("base64"), cipher: "DES" }, /invalid cipher/],
        ["/v1/key/import/imp-7", Buffer.from("{not json"), /malformed JSON/],
        ["/v1/key/import/imp-8", [1, 2], /JSON object/],
        ["/v1/key/generate/bodies", { context: 7 }, /invalid context/],
        ["/v1/key/generate/bodies", { context: "%%%" }, /invalid context/],
        ["/v1/key/encrypt/bodies", {}, /invalid plaintext: missing/],
        ["/v1/key/encrypt/bodies", { plaintext: ["x"] }, /invalid plaintext/],
        ["/v1/key/decrypt/bodies", {}, /invalid ciphertext: missing/],
        ["/v1/key/decrypt/bodies", { ciphertext: "" }, /./],
        ["/v1/key/decrypt/bodies", { ciphertext: "AAAA" }, /./],
        ["/v1/key/hmac/bodies", {}, /invalid message: missing/],
        ["/v1/key/hmac/bodies", Buffer.from("null"), /JSON object/],
      ];
      for (const [p, body, message] of cases) {
        await expectKesError(admin.send("POST", p, body), 400, message);
      }
      assert.deepEqual((await admin.listKeys("imp-")).names, [], "nothing was imported");
    });

    it("lists in /v1/api only routes it implements", async () => {
      const apis = await anon.apis();
      const paths = new Set(apis.map((a) => a.path));
      for (const p of ["/version", "/v1/api", "/v1/status", "/v1/key/create/", "/v1/key/import/", "/v1/key/list/", "/v1/key/delete/", "/v1/key/generate/", "/v1/key/decrypt/", "/v1/key/hmac/"]) {
        assert.ok(paths.has(p), `MinIO's route ${p} is listed`);
      }
      for (const a of apis) {
        const resource = !a.path.endsWith("/") ? "" : a.path.startsWith("/v1/policy/") ? "minio" : "listed-route";
        const reply = await admin.send(a.method, a.path + resource, a.max_body > 0 ? {} : undefined).then((r) => ({ status: r.status, message: "" }), (e) => e);
        // Implemented: anything but 405/501 and the router's own 404 (a missing key or policy is a 404 too).
        assert.ok(![405, 501].includes(reply.status) && !(reply.status === 404 && reply.message === "not found"), `${a.method} ${a.path} is implemented (got ${reply.status} ${reply.message})`);
      }
    });
  });
}

conformance("kes-go against the stateful server's KES API", async () => {
  const server = await startServer({ extraArgs: ["--kes-enclave", "minio-tenant"] });
  const minio = newClientId();
  const c = server.client();
  await c.createEnclave("minio-tenant");
  await c.createPolicy("minio-tenant", "minio", { "KEY:CREATE": ["minio-*"], "KEY:GENERATE": ["minio-*"], "KEY:DECRYPT": ["minio-*"], "KEY:LIST": ["minio-*"] }, { "KEY:GENERATE": ["minio-forbidden"] });
  await c.createIdentity("minio-tenant", minio.h1, "User");
  await c.assignPolicy("minio-tenant", "minio", minio.h1);
  return {
    target: { port: server.port, ca: server.ca },
    admin: clientIdOf(server.apiKey),
    minio,
    minioAllow: ["/v1/key/create/minio-*", "/v1/key/decrypt/minio-*", "/v1/key/generate/minio-*", "/v1/key/list/minio-*"],
  };
});

conformance("kes-go against kms edge", async () => {
  const dir = tempDir("kms-kesgo-");
  const { cert } = writeServerTls(dir);
  const admin = newClientId(), minio = newClientId();
  const minioAllow = ["/v1/key/create/minio-*", "/v1/key/generate/minio-*", "/v1/key/decrypt/minio-*", "/v1/key/list/*", "/v1/identity/self/describe"];
  const configFile = path.join(dir, "edge.yml");
  writeFileSync(configFile, `${edgeConfigHead(dir, admin.hex)}policy:
  minio:
    allow:
${minioAllow.map((a) => `    - ${a}`).join("\n")}
    deny:
    - /v1/key/generate/minio-forbidden
    identities:
    - ${minio.hex}
keystore:
  fs:
    path: ${path.join(dir, "keys")}
`);
  const edge = await startEdge({ configFile, ca: cert });
  return { target: edge, admin, minio, minioAllow };
});
