/**
 * The data directory and the HSM key: a new directory is owner-only; a wrong,
 * malformed or missing HSM key is refused with a clear message before
 * anything on disk changes; a directory that is not kms's is left alone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { type FileSnapshot, oneShotClient, redactedOutput, snapshotDir, stopWithin } from "../helpers/e2e.ts";
import { refusedStart, sql } from "../helpers/data-dir.ts";
import { cleanup, type KmsServer, startServer, tempDir } from "../helpers/kms.ts";

let base: string;
let dir: string;
let hsmKey: string;

const asObject = (m: Map<string, FileSnapshot>) => Object.fromEntries(m);

describe("data directory and HSM key", () => {
  before(async () => {
    base = tempDir("kms-datadir-");
    dir = path.join(base, "data");
    hsmKey = SoftHsm.generate();
  });
  after(cleanup);

  it("an existing empty directory becomes an owner-only (0700) data directory", async () => {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const server = await startServer({ dir, hsmKey });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.match(server.output(), /new single-node cluster/);
    const c = oneShotClient(server);
    await c.createEnclave("kept");
    await c.createKey("kept", "key");
    // SIGINT (Ctrl-C) stops as cleanly as SIGTERM.
    const code = await stopWithin(server, "SIGINT", 10_000);
    assert.equal(code, 0, `clean stop on SIGINT:\n${redactedOutput(server)}`);
    assert.match(server.output(), /kms: stopped/);
  });

  it("a different valid HSM key is refused: non-zero exit, a clear message, not one byte changed", async () => {
    const before = snapshotDir(dir);
    assert.ok(before.has("root.seal") && before.has("kms.db"), "the directory holds a kms data directory");
    const other = SoftHsm.generate();
    const r = await refusedStart(dir, other);
    assert.match(r.stderr, /the HSM key does not match this data directory/);
    assert.ok(!r.stderr.includes(other) && !r.stderr.includes(hsmKey), "the message does not quote an HSM key");
    assert.deepEqual(asObject(snapshotDir(dir)), asObject(before), "every file (path, size, bytes, mode) is unchanged, none added");
  });

  for (const [what, bad] of [
    ["garbage", "not-an-hsm-key"],
    ["an empty body", "hsm:aes256:"],
    ["16 bytes", `hsm:aes256:${randomBytes(16).toString("base64")}`],
    ["33 bytes", `hsm:aes256:${randomBytes(33).toString("base64")}`],
    ["another algorithm", `hsm:aes128:${randomBytes(32).toString("base64")}`],
    ["URL-safe base64", `hsm:aes256:${Buffer.from(new Uint8Array(32).fill(0xfb)).toString("base64url")}=`],
  ] as const) {
    it(`a malformed HSM key (${what}) is refused, explains 'kms hsm new', and creates no directory`, async () => {
      const fresh = path.join(base, `never-${what.replace(/\W+/g, "-")}`);
      const r = await refusedStart(fresh, bad);
      assert.match(r.stderr, /MINIO_KMS_HSM_KEY is not a valid HSM key/);
      assert.match(r.stderr, /kms hsm new/);
      const body = bad.startsWith("hsm:") ? bad.slice(bad.lastIndexOf(":") + 1) : bad;
      if (body.length >= 8) assert.ok(!r.stderr.includes(body), "the message does not quote the key");
      assert.ok(!existsSync(fresh), "the data directory was not created");
    });
  }

  it("a malformed HSM key on an existing data directory changes nothing", async () => {
    const before = snapshotDir(dir);
    const r = await refusedStart(dir, "hsm:aes256:short");
    assert.match(r.stderr, /kms hsm new/);
    assert.deepEqual(asObject(snapshotDir(dir)), asObject(before));
  });

  it("a missing MINIO_KMS_HSM_KEY is refused, explains 'kms hsm new', and creates no directory", async () => {
    const fresh = path.join(base, "never-missing");
    const r = await refusedStart(fresh, undefined);
    assert.match(r.stderr, /MINIO_KMS_HSM_KEY is not set/);
    assert.match(r.stderr, /kms hsm new/);
    assert.ok(!existsSync(fresh), "the data directory was not created");
  });

  it("a non-empty directory that is not a kms data directory is refused and left alone", async () => {
    const foreign = path.join(base, "foreign");
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, "notes.txt"), "someone else's file\n");
    const before = snapshotDir(foreign);
    const r = await refusedStart(foreign, hsmKey);
    assert.match(r.stderr, /not a kms data directory/);
    assert.deepEqual(asObject(snapshotDir(foreign)), asObject(before));
  });

  it("a path that is a file is refused", async () => {
    const file = path.join(base, "a-file");
    writeFileSync(file, "x");
    const r = await refusedStart(file, hsmKey);
    assert.match(r.stderr, /is not a directory/);
  });

  it("after all that, the right HSM key opens the directory with its state", async () => {
    const server = await startServer({ dir, hsmKey });
    assert.doesNotMatch(server.output(), /new single-node cluster/);
    const c = oneShotClient(server);
    assert.equal((await c.keyStatus("kept", "key")).version, 1);
  });

  it("a second server on a data directory that a running server holds is refused", async () => {
    const busy = path.join(base, "busy");
    const first = await startServer({ dir: busy, hsmKey });
    await oneShotClient(first).createEnclave("e");
    let second: KmsServer | undefined;
    let refusal = "";
    try {
      second = await startServer({ dir: busy, hsmKey });
    } catch (err) {
      refusal = (err as Error).message.replace(/\bk[12]:[A-Za-z0-9_-]+/g, "k?:<redacted>");
    }
    if (second) {
      await second.stop("SIGKILL");
      assert.fail(
        "a second server started on a data directory another running server holds: each keeps its own in-memory state " +
          "and their writes overwrite each other on disk (a key version one of them acknowledged can be lost)",
      );
    }
    assert.match(refusal, /in use|locked|another (kms )?(server|process)/i);
    assert.equal((await oneShotClient(first).enclaveStatus("e")).name, "e", "the first server keeps serving");
  });

  it("servers started at the same moment on one data directory (after a crash): exactly one serves", async () => {
    const raced = path.join(base, "raced");
    const first = await startServer({ dir: raced, hsmKey });
    await oneShotClient(first).createEnclave("e");
    await first.stop("SIGKILL");
    const up: number[] = [];
    for (let round = 0; round < 4; round++) {
      // kill -9 leaves the previous owner's lock behind: every round starts from a crash.
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => startServer({ dir: raced, hsmKey, timeoutMs: 60_000 })));
      const started = results.filter((r): r is PromiseFulfilledResult<KmsServer> => r.status === "fulfilled").map((r) => r.value);
      up.push(started.length);
      for (const srv of started) await srv.stop("SIGKILL");
    }
    // The race is timing-dependent (most visible under load): any round with more than one server is the bug.
    assert.deepEqual(up, [1, 1, 1, 1], "servers running on the same data directory in each round of 6 simultaneous starts");
  });

  it("a restart re-creates a deleted ca.crt with the same certificate", async () => {
    const certDir = path.join(base, "cert");
    const first = await startServer({ dir: certDir, hsmKey });
    const cert = first.ca;
    await oneShotClient(first).createEnclave("e"); // past start-up (see the SIGTERM-right-after-start test in durability)
    assert.equal(await stopWithin(first, "SIGTERM", 10_000), 0);
    rmSync(path.join(certDir, "ca.crt"));
    let restarted: KmsServer | undefined;
    try {
      restarted = await startServer({ dir: certDir, hsmKey });
    } catch (err) {
      assert.ok(existsSync(path.join(certDir, "ca.crt")),
        `after a restart ${path.join(certDir, "ca.crt")} is still missing, though the server tells clients to use it with --ca (${(err as Error).message.split("\n")[0]})`);
    }
    assert.ok(restarted, "the server restarted");
    assert.equal(readFileSync(path.join(certDir, "ca.crt"), "utf8"), cert, "the same certificate as before");
    // The client trusts the restarted node (a new node certificate, the same CA).
    await oneShotClient(restarted!).enclaveStatus("e");
  });

  it("a tampered record (two rows' values swapped) is refused at start with a clear message, naming no secret", async () => {
    const tampered = path.join(base, "tampered");
    const first = await startServer({ dir: tampered, hsmKey });
    const c = oneShotClient(first);
    await c.createEnclave("e");
    await c.createKey("e", "a");
    await c.createKey("e", "b");
    assert.equal(await stopWithin(first, "SIGTERM", 10_000), 0);
    const db = createClient({ url: pathToFileURL(path.join(tampered, "kms.db")).href });
    try {
      const rows = (await db.execute("SELECT id, value FROM records")).rows;
      assert.ok(rows.length >= 3, "there are records to swap");
      await db.execute({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [rows[1].value, rows[0].id] });
    } finally {
      db.close();
    }
    const r = await refusedStart(tampered, hsmKey);
    assert.match(r.stderr, /is corrupt/);
    assert.doesNotMatch(r.stderr, /\b(e|a|b)\b.*(enclave|key)/, "the message does not name the record");
  });
  it("a data directory written by an older kms (schema 1) starts, migrated: its keys open what they sealed", async () => {
    const fixture = path.join(import.meta.dirname, "../fixtures/data-dir-v1");
    const fx = JSON.parse(readFileSync(`${fixture}.json`, "utf8"));
    const legacy = path.join(base, "legacy");
    cpSync(fixture, legacy, { recursive: true });
    chmodSync(legacy, 0o700); // git keeps no modes
    assert.equal(sql(legacy, [{ sql: "PRAGMA user_version" }])[0][0][0], 1);
    const server = await startServer({ dir: legacy, hsmKey: fx.hsmKey });
    const c = oneShotClient(server);
    for (const key of fx.keys) {
      const r = await c.decrypt(fx.enclave, key, Buffer.from(fx.ciphertexts[key], "base64"));
      assert.equal(Buffer.from(r.plaintext as Uint8Array).toString(), fx.plaintext, key);
    }
    assert.equal(sql(legacy, [{ sql: "PRAGMA user_version" }])[0][0][0], 2);
    // Its log (one entry per record) now grows by rows of several entries: a restart reads both.
    await Promise.all([c.createKey(fx.enclave, "new-1"), c.createKey(fx.enclave, "new-2"), c.createKey(fx.enclave, "new-3")]);
    assert.equal(await stopWithin(server, "SIGTERM", 10_000), 0, redactedOutput(server));
    const again = oneShotClient(await startServer({ dir: legacy, hsmKey: fx.hsmKey }));
    for (const key of [...fx.keys, "new-1", "new-2", "new-3"]) {
      const sealed = await again.encrypt(fx.enclave, key, Buffer.from(fx.plaintext));
      assert.equal(Buffer.from((await again.decrypt(fx.enclave, key, sealed.ciphertext as Uint8Array)).plaintext as Uint8Array).toString(), fx.plaintext, key);
    }
  });
});
