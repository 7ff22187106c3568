/**
 * MinIO KMS's native protocol over the real client against one server: the
 * exact (status, message) error pairs the Go client compares, pipelining,
 * mixed read batches, refused write batches, listing and cluster status.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { decode } from "../../lib/wire/proto.ts";
import type { Call, KmsClient } from "../../lib/client/client.ts";
import { clientCredentials, newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { assertErrReply, assertServerHealthy, expectKmsError, framesOf, postNative, replyFrames } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, startServer, tempDir } from "../helpers/kms.ts";

const E = "proto";
const enc = new TextEncoder();
let server: KmsServer;
let client: KmsClient;

const generate = (name: string, ad: string, length = 0): Call => ({
  id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse",
  message: { name, version: 0, associated_data: enc.encode(ad), length },
});
const decrypt = (name: string, ciphertext: Uint8Array, ad: string): Call => ({
  id: 206, request: "DecryptRequest", response: "DecryptResponse",
  message: { name, version: 0, ciphertext, associated_data: enc.encode(ad) },
});
const keyStatus = (name: string): Call => ({ id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name, version: 0 } });

describe("native protocol", () => {
  before(async () => {
    server = await startServer();
    client = server.client();
    await client.createEnclave(E);
    await client.createKey(E, "k");
    await client.createKey(E, "k2", "ChaCha20");
  });
  after(cleanup);

  it("a new data directory is created with mode 0700", () => {
    assert.equal(statSync(server.dir).mode & 0o777, 0o700);
  });

  describe("exact error pairs", () => {
    it("409 enclave already exists", async () => {
      await expectKmsError(client.createEnclave(E), 409, "enclave already exists");
    });

    it("404 enclave does not exist, for enclave and key commands alike", async () => {
      await expectKmsError(client.enclaveStatus("no-such-enclave"), 404, "enclave does not exist");
      await expectKmsError(client.deleteEnclave("no-such-enclave"), 404, "enclave does not exist");
      await expectKmsError(client.createKey("no-such-enclave", "k"), 404, "enclave does not exist");
      await expectKmsError(client.keyStatus("no-such-enclave", "k"), 404, "enclave does not exist");
      await expectKmsError(client.listKeys("no-such-enclave"), 404, "enclave does not exist");
      await expectKmsError(client.generate("no-such-enclave", "k"), 404, "enclave does not exist");
    });

    it("409 key already exists, for create and import", async () => {
      await expectKmsError(client.createKey(E, "k"), 409, "key already exists");
      await expectKmsError(client.createKey(E, "k", "ChaCha20"), 409, "key already exists");
      await expectKmsError(client.importKey(E, "k", randomBytes(32)), 409, "key already exists");
    });

    it("404 key does not exist, for every key command", async () => {
      const m = "key does not exist";
      await expectKmsError(client.keyStatus(E, "missing"), 404, m);
      await expectKmsError(client.encrypt(E, "missing", enc.encode("x")), 404, m);
      await expectKmsError(client.decrypt(E, "missing", randomBytes(80)), 404, m);
      await expectKmsError(client.generate(E, "missing"), 404, m);
      await expectKmsError(client.mac(E, "missing", enc.encode("x")), 404, m);
      await expectKmsError(client.deleteKey(E, "missing"), 404, m);
      await expectKmsError(client.createKey(E, "missing", "", true), 404, m);
      await expectKmsError(client.keyStatus(E, "k", 7), 404, m);
      await expectKmsError(client.encrypt(E, "k", enc.encode("x"), undefined, 7), 404, m);
    });

    it("400 invalid ciphertext", async () => {
      await expectKmsError(client.decrypt(E, "k", randomBytes(100)), 400, "invalid ciphertext");
      await expectKmsError(client.decrypt(E, "k", new Uint8Array()), 400, "invalid ciphertext");
      const ct = (await client.encrypt(E, "k", enc.encode("x"))).ciphertext as Uint8Array;
      await expectKmsError(client.decrypt(E, "k2", ct), 400, "invalid ciphertext");
    });

    it("403 access denied for an identity that is not the admin, and nothing changes", async () => {
      const strangerKey = newApiKey();
      const stranger = server.client(strangerKey);
      assert.notEqual(stranger.identity, parseApiKey(server.apiKey).identity);
      const denied = "access denied: insufficient permissions";
      const attempts: Array<[string, () => Promise<unknown>]> = [
        ["ENCLAVE:LIST", () => stranger.listEnclaves()],
        ["ENCLAVE:CREATE", () => stranger.createEnclave("stranger-enclave")],
        ["ENCLAVE:STATUS", () => stranger.enclaveStatus(E)],
        ["ENCLAVE:DELETE", () => stranger.deleteEnclave(E)],
        ["CLUSTER:STATUS", () => stranger.clusterStatus()],
        ["KEY:CREATE", () => stranger.createKey(E, "stranger-key")],
        ["KEY:IMPORT", () => stranger.importKey(E, "stranger-key", randomBytes(32))],
        ["KEY:DELETE", () => stranger.deleteKey(E, "k")],
        ["KEY:STATUS", () => stranger.keyStatus(E, "k")],
        ["KEY:LIST", () => stranger.listKeys(E)],
        ["KEY:ENCRYPT", () => stranger.encrypt(E, "k", enc.encode("x"))],
        ["KEY:DECRYPT", () => stranger.decrypt(E, "k", randomBytes(80))],
        ["KEY:GENERATE", () => stranger.generate(E, "k")],
        ["KEY:MAC", () => stranger.mac(E, "k", enc.encode("x"))],
        // A stranger learns nothing about what exists: a missing enclave is also a 403.
        ["KEY:STATUS in a missing enclave", () => stranger.keyStatus("no-such-enclave", "k")],
      ];
      for (const [what, run] of attempts) {
        await assert.doesNotReject(expectKmsError(run(), 403, denied), what);
      }
      await expectKmsError(client.enclaveStatus("stranger-enclave"), 404, "enclave does not exist");
      await expectKmsError(client.keyStatus(E, "stranger-key"), 404, "key does not exist");
      assert.equal((await client.keyStatus(E, "k")).version, 1, "the key the stranger tried to delete is still there");
      assert.equal((await client.enclaveStatus(E)).name, E);
    });
  });

  describe("pipelining", () => {
    it("1,000 GENERATE frames in one request: 1,000 replies in order, each bound to its own associated data", async () => {
      const n = 1000;
      const lengthOf = (i: number) => 1 + (i % 97);
      const calls = Array.from({ length: n }, (_, i) => generate(i % 2 ? "k" : "k2", `bucket/object-${i}`, lengthOf(i)));
      const replies = await client.batch(E, calls);
      assert.equal(replies.length, n);
      replies.forEach((r, i) => {
        assert.equal(r.version, 1);
        assert.equal((r.plaintext as Uint8Array).length, lengthOf(i), `reply ${i} answers request ${i}`);
      });
      // Decrypt all of them, again pipelined, each with its own key and associated data.
      const opened = await client.batch(E, replies.map((r, i) => decrypt(i % 2 ? "k" : "k2", r.ciphertext as Uint8Array, `bucket/object-${i}`)));
      assert.equal(opened.length, n);
      opened.forEach((o, i) => {
        assert.ok(Buffer.from(o.plaintext as Uint8Array).equals(Buffer.from(replies[i].plaintext as Uint8Array)), `DEK ${i} decrypts to itself`);
      });
      // And not with a neighbour's associated data.
      await expectKmsError(client.decrypt(E, "k2", replies[0].ciphertext as Uint8Array, enc.encode("bucket/object-2")), 400, "invalid ciphertext");
      assertServerHealthy(server);
    });

    it("a mixed batch of reads gets one reply per frame, same ids, same order", async () => {
      const ct = (await client.encrypt(E, "k", enc.encode("premade"), enc.encode("ad"))).ciphertext as Uint8Array;
      const body = framesOf([
        { id: 204, request: "KeyStatusRequest", message: { name: "k" } },
        { id: 205, request: "EncryptRequest", message: { name: "k", plaintext: enc.encode("hello") } },
        { id: 207, request: "GenerateKeyRequest", message: { name: "k2", length: 16 } },
        { id: 210, request: "MACRequest", message: { name: "k", message: enc.encode("m") } },
        { id: 208, request: "ListRequest", message: { prefix: "k" } },
        { id: 206, request: "DecryptRequest", message: { name: "k", ciphertext: ct, associated_data: enc.encode("ad") } },
        { id: 103, request: "EnclaveStatusRequest", message: { name: E } },
        { id: 204, request: "KeyStatusRequest", message: { name: "k2" } },
      ]);
      const reply = await postNative(server, E, body);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers["content-type"], "application/octet-stream");
      assert.equal(reply.headers["content-length"], String(reply.body.length), "the reply carries its exact content-length");
      assert.equal(reply.headers["transfer-encoding"], undefined, "the reply is not chunked");
      const frames = replyFrames(reply.body);
      assert.deepEqual(frames.map((f) => f.id), [204, 205, 207, 210, 208, 206, 103, 204]);
      const [st, en, ge, ma, li, de, es, st2] = frames.map((f) => f.payload);
      assert.deepEqual([decode("KeyStatusResponse", st).name, decode("KeyStatusResponse", st).type], ["k", "AES256"]);
      const encrypted = decode("EncryptResponse", en);
      assert.equal(encrypted.version, 1);
      assert.ok((encrypted.ciphertext as Uint8Array).length > 5);
      assert.equal((decode("GenerateKeyResponse", ge).plaintext as Uint8Array).length, 16);
      assert.equal((decode("MACResponse", ma).mac as Uint8Array).length, 32);
      assert.deepEqual((decode("ListKeysResponse", li).keys as Array<{ name: string }>).map((k) => k.name), ["k", "k2"]);
      assert.equal(Buffer.from(decode("DecryptResponse", de).plaintext as Uint8Array).toString(), "premade");
      assert.equal(decode("EnclaveStatusResponse", es).name, E);
      assert.deepEqual([decode("KeyStatusResponse", st2).name, decode("KeyStatusResponse", st2).type], ["k2", "ChaCha20"]);
      // The encrypt reply of the batch really is a ciphertext of "hello".
      const back = await client.decrypt(E, "k", encrypted.ciphertext as Uint8Array);
      assert.equal(Buffer.from(back.plaintext as Uint8Array).toString(), "hello");
    });

    it("a write batched with another frame is refused with 400 and not applied", async () => {
      const batches: Array<[string, string, Call[]]> = [
        ["create + status", E, [{ id: 201, request: "CreateKeyRequest", message: { name: "batched-1", type: "", add_version: false } }, keyStatus("k")]],
        ["status + create", E, [keyStatus("k"), { id: 201, request: "CreateKeyRequest", message: { name: "batched-2", type: "", add_version: false } }]],
        ["create + create", E, [
          { id: 201, request: "CreateKeyRequest", message: { name: "batched-3", type: "", add_version: false } },
          { id: 201, request: "CreateKeyRequest", message: { name: "batched-4", type: "", add_version: false } },
        ]],
        ["delete + status", E, [{ id: 202, request: "DeleteKeyRequest", message: { name: "k2", version: 0, all_versions: true } }, keyStatus("k")]],
        ["enclave create + list", "", [
          { id: 101, request: "CreateEnclaveRequest", message: { name: "batched-enclave" } },
          { id: 104, request: "ListRequest", response: "ListEnclavesResponse", message: {} },
        ]],
      ];
      for (const [what, enclave, calls] of batches) {
        const reply = await postNative(server, enclave, framesOf(calls));
        assert.equal(reply.status, 400, what);
        assertErrReply(reply, 400, /pipelined|batch/);
        await expectKmsError(client.batch(enclave, calls), 400, /pipelined|batch/);
      }
      for (const name of ["batched-1", "batched-2", "batched-3", "batched-4"]) {
        await expectKmsError(client.keyStatus(E, name), 404, "key does not exist");
      }
      assert.equal((await client.keyStatus(E, "k2")).version, 1, "the batched delete did not run");
      await expectKmsError(client.enclaveStatus("batched-enclave"), 404, "enclave does not exist");
    });

    it("a batch with a read of a missing key answers that key's error", async () => {
      await expectKmsError(client.batch(E, [keyStatus("k"), keyStatus("missing"), keyStatus("k2")]), 404, "key does not exist");
    });
  });

  describe("listing, status and lifecycle", () => {
    it("KEY:LIST and ENCLAVE:LIST paginate with continue_at, sorted, and filter by prefix", async () => {
      await client.createEnclave("page");
      const names = ["p-05", "p-01", "p-06", "p-03", "p-00", "p-04", "p-02", "q-00"];
      for (const n of names) await client.createKey("page", n);
      const seen: string[] = [];
      let at = "";
      let pages = 0;
      do {
        const page = await client.listKeys("page", "p-", at, 3);
        const keys = page.keys as Array<{ name: string; version: number; type: string }>;
        assert.ok(keys.length <= 3, "a page holds at most limit keys");
        for (const k of keys) assert.deepEqual([k.version, k.type], [1, "AES256"]);
        seen.push(...keys.map((k) => k.name));
        at = page.continue_at as string;
        pages++;
        assert.ok(pages < 10, "the listing ends");
      } while (at);
      assert.deepEqual(seen, ["p-00", "p-01", "p-02", "p-03", "p-04", "p-05", "p-06"]);
      assert.equal(pages, 3);
      const all = await client.listKeys("page");
      assert.equal((all.keys as unknown[]).length, 8);
      assert.equal(all.continue_at, "");

      await client.createEnclave("page-2");
      const enclaves = await client.listEnclaves("page");
      assert.deepEqual((enclaves.enclaves as Array<{ name: string }>).map((e) => e.name), ["page", "page-2"]);
      const first = await client.listEnclaves("page", "", 1);
      assert.deepEqual((first.enclaves as Array<{ name: string }>).map((e) => e.name), ["page"]);
      assert.equal(first.continue_at, "page-2");
    });

    it("ENCLAVE:STATUS and KEY:STATUS name the creator and the time", async () => {
      const before = Math.floor(Date.now() / 1000);
      await client.createEnclave("stamped");
      await client.createKey("stamped", "key");
      const admin = parseApiKey(server.apiKey).identity;
      const e = await client.enclaveStatus("stamped") as { name: string; created_by: string; created_at: { seconds: number } };
      const k = await client.keyStatus("stamped", "key") as { name: string; created_by: string; created_at: { seconds: number } };
      for (const s of [e, k]) {
        assert.equal(s.created_by, admin);
        assert.ok(s.created_at.seconds >= before - 1 && s.created_at.seconds <= Date.now() / 1000 + 1, "created_at is now");
      }
    });

    it("deleting an enclave deletes its keys; a new enclave of the same name starts empty", async () => {
      await client.createEnclave("doomed");
      await client.createKey("doomed", "key");
      const ct = (await client.encrypt("doomed", "key", enc.encode("x"))).ciphertext as Uint8Array;
      await client.deleteEnclave("doomed");
      await expectKmsError(client.keyStatus("doomed", "key"), 404, "enclave does not exist");
      await client.createEnclave("doomed");
      await expectKmsError(client.keyStatus("doomed", "key"), 404, "key does not exist");
      assert.deepEqual((await client.listKeys("doomed")).keys, []);
      await client.createKey("doomed", "key");
      await expectKmsError(client.decrypt("doomed", "key", ct), 400, "invalid ciphertext");
    });

    it("the same key name in two enclaves is two different keys", async () => {
      await client.createEnclave("twin-a");
      await client.createEnclave("twin-b");
      await client.createKey("twin-a", "key");
      await client.createKey("twin-b", "key");
      const ct = (await client.encrypt("twin-a", "key", enc.encode("x"))).ciphertext as Uint8Array;
      await expectKmsError(client.decrypt("twin-b", "key", ct), 400, "invalid ciphertext");
      const [ma, mb] = await Promise.all([client.mac("twin-a", "key", enc.encode("m")), client.mac("twin-b", "key", enc.encode("m"))]);
      assert.ok(!Buffer.from(ma.mac as Uint8Array).equals(Buffer.from(mb.mac as Uint8Array)));
    });

    it("CLUSTER:STATUS shows this node as leader and counts commits", async () => {
      const s1 = await client.clusterStatus() as { nodes_up: Record<string, { role: string; host: string; commit: number; api_version: string }>; nodes_down: object };
      assert.deepEqual(Object.keys(s1.nodes_up), ["0"]);
      const node = s1.nodes_up["0"];
      assert.equal(node.role, "Leader");
      assert.equal(node.host, server.address);
      assert.equal(node.api_version, "v1");
      assert.deepEqual(s1.nodes_down, {});
      await client.createEnclave("commit-counter");
      const s2 = await client.clusterStatus() as typeof s1;
      assert.equal(s2.nodes_up["0"].commit, node.commit + 1, "one write, one commit");
    });

    it("GET /version answers with the version and api_version", async () => {
      const v = await client.version();
      assert.match(String(v.version), /^\d+\.\d+\.\d+/);
      assert.equal(v.api_version, "v1");
      assert.equal(v.host, server.address);
    });
  });

  it("MinIO's start-up and SSE calls: /version, KEY:LIST, GENERATE on a missing key → 404 → CREATE, GENERATE, DECRYPT with version 0", async () => {
    await client.createEnclave("minio");
    const version = await client.version();
    assert.equal(version.api_version, "v1");
    assert.deepEqual((await client.listKeys("minio")).keys, []);
    await expectKmsError(client.generate("minio", "minio-default-key", enc.encode("{}"), 32), 404, "key does not exist");
    await client.createKey("minio", "minio-default-key");
    const ad = enc.encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));
    const dek = await client.generate("minio", "minio-default-key", ad, 32);
    assert.equal((dek.plaintext as Uint8Array).length, 32);
    // MinIO stores {key id, version, ciphertext} but always decrypts with version 0.
    const opened = await client.decrypt("minio", "minio-default-key", dek.ciphertext as Uint8Array, ad, 0);
    assert.ok(Buffer.from(opened.plaintext as Uint8Array).equals(Buffer.from(dek.plaintext as Uint8Array)));
    // After a rotation, the old object's DEK still opens with version 0.
    await client.createKey("minio", "minio-default-key", "", true);
    const again = await client.decrypt("minio", "minio-default-key", dek.ciphertext as Uint8Array, ad, 0);
    assert.ok(Buffer.from(again.plaintext as Uint8Array).equals(Buffer.from(dek.plaintext as Uint8Array)));
    const listed = (await client.listKeys("minio")).keys as Array<{ name: string; version: number }>;
    assert.deepEqual(listed.map((k) => [k.name, k.version]), [["minio-default-key", 2]]);
  });

  describe("concurrency", () => {
    it("20 concurrent creates of one key: exactly one succeeds, the others get 409", async () => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => client.createKey(E, "raced")));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(ok, 1, "exactly one create wins");
      for (const r of results) {
        if (r.status === "rejected") assert.deepEqual([r.reason.status, r.reason.message], [409, "key already exists"]);
      }
    });

    it("20 concurrent rotations make 20 distinct versions, each usable", async () => {
      await client.createKey(E, "spun");
      await Promise.all(Array.from({ length: 20 }, () => client.createKey(E, "spun", "", true)));
      assert.equal((await client.keyStatus(E, "spun")).version, 21);
      const macs = await Promise.all(Array.from({ length: 21 }, (_, i) => client.mac(E, "spun", enc.encode("m"), i + 1)));
      macs.forEach((m, i) => assert.equal(m.version, i + 1));
      assert.equal(new Set(macs.map((m) => Buffer.from(m.mac as Uint8Array).toString("hex"))).size, 21, "every version has its own key material");
    });
  });

  describe("client certificates", () => {
    const openssl = spawnSync("openssl", ["version"]).status === 0;

    it("any self-signed certificate of the admin's key is the admin: expired, without extensions (no clientAuth usage), another CN", { skip: !openssl && "openssl is not installed" }, async () => {
      const work = tempDir("kms-certs-");
      const keyFile = path.join(work, "admin.key");
      writeFileSync(keyFile, clientCredentials(parseApiKey(server.apiKey)).key, { mode: 0o600 });
      const csr = path.join(work, "r.csr");
      const cert = path.join(work, "expired.crt");
      const run = (args: string[]) => {
        const r = spawnSync("openssl", args, { encoding: "utf8" });
        assert.equal(r.status, 0, `openssl ${args[0]}: ${r.stderr}`);
      };
      run(["req", "-new", "-key", keyFile, "-subj", "/CN=not-the-identity/O=elsewhere", "-out", csr]);
      run(["x509", "-req", "-in", csr, "-signkey", keyFile, "-days", "-1", "-out", cert]);
      const dates = spawnSync("openssl", ["x509", "-in", cert, "-noout", "-enddate"], { encoding: "utf8" }).stdout;
      const notAfter = new Date(dates.replace("notAfter=", "").trim());
      assert.ok(notAfter.getTime() < Date.now(), "the certificate has expired");
      const reply = await postNative(server, E, framesOf([{ id: 204, request: "KeyStatusRequest", message: { name: "k" } }]), {
        credentials: { cert: readFileSync(cert, "utf8"), key: readFileSync(keyFile, "utf8") },
      });
      assert.equal(reply.status, 200, "the server knows the client by its public key alone");
      assert.equal(decode("KeyStatusResponse", replyFrames(reply.body)[0].payload).name, "k");
    });
  });

  describe("ECDSA API keys", () => {
    // A random scalar below each curve's order: P-521's order starts with 0x01ff.
    const scalar = (size: number) => {
      const b = randomBytes(size);
      if (size === 66) b[0] &= 0x01;
      else b[0] &= 0x7f;
      return b;
    };
    for (const [curve, size] of [["P-256", 32], ["P-384", 48], ["P-521", 66]] as const) {
      it(`a k2 (${curve}) API key is known by its public key: an identity the admin adds can work, a stranger cannot`, async () => {
        const apiKey = `k2:${scalar(size).toString("base64url")}`;
        const identity = parseApiKey(apiKey).identity;
        const enclave = `ecdsa-${curve.toLowerCase()}`;
        await client.createEnclave(enclave);
        const user = server.client(apiKey);
        await expectKmsError(user.createKey(enclave, "mine"), 403, "access denied: insufficient permissions");
        await client.call(enclave, { id: 401, request: "CreateIdentityRequest", message: { identity, privilege: "Admin" } });
        await user.createKey(enclave, "mine");
        assert.equal((await user.keyStatus(enclave, "mine")).created_by, identity, "the server identified the ECDSA certificate");
        await expectKmsError(user.keyStatus(E, "k"), 403, "access denied: insufficient permissions");
      });
    }
  });

  it("10,000 pipelined frames, served in turns with other requests, are answered complete and in order", async () => {
    // Each frame carries its own plaintext, so a reply out of place or missing shows.
    const plaintexts = Array.from({ length: 10_000 }, (_, i) => enc.encode(`plaintext ${i}`));
    const singles: Promise<unknown>[] = [];
    const encrypted = postNative(server, E, framesOf(plaintexts.map((p) => ({ id: 205, request: "EncryptRequest", message: { name: "k", plaintext: p } }))));
    // Other connections are served meanwhile, and correctly.
    for (let i = 0; i < 5; i++) singles.push(client.call(E, generate("k", `single ${i}`)));
    const reply = await encrypted;
    assert.equal(reply.status, 200);
    const frames = replyFrames(reply.body);
    assert.equal(frames.length, 10_000, "one reply per frame");
    assert.ok(frames.every((f) => f.id === 205), "each reply answers its frame's command");
    const ciphertexts = frames.map((f) => decode("EncryptResponse", f.payload).ciphertext as Uint8Array);
    const opened = await postNative(server, E, framesOf(ciphertexts.map((c) => ({ id: 206, request: "DecryptRequest", message: { name: "k", ciphertext: c } }))));
    assert.equal(opened.status, 200);
    const plain = replyFrames(opened.body).map((f) => new TextDecoder().decode(decode("DecryptResponse", f.payload).plaintext as Uint8Array));
    assert.deepEqual(plain, plaintexts.map((p) => new TextDecoder().decode(p)), "every reply in its frame's place");
    for (const s of await Promise.all(singles)) assert.equal(((s as { plaintext: Uint8Array }).plaintext).length, 32);
  });

  it("the server survived every request and logged no internal error", () => {
    assertServerHealthy(server);
  });
});
