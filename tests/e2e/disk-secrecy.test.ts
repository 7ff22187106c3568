/**
 * Nothing in the clear on disk: distinctive enclave and key names, imported
 * key bytes, the HSM key and the admin API key must not appear in any file of
 * the data directory — raw, hex or base64 — while the server runs (the WAL
 * included), after kill -9, and after a clean stop. A deleted key leaves every
 * file of every node, in every form it was stored in.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { openedRows } from "../helpers/data-dir.ts";
import { filesUnder, findSecrets, oneShotClient, redactedOutput, type Secret, stopWithin, waitUntil } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";

const ENCLAVE = "enclave-zebra-7f3a9c51";
const KEYS = ["key-quokka-9b1c2d77", "key-narwhal-4e5f6a88"];
const IMPORTED = "key-axolotl-0c1d2e99";
const importBytes = randomBytes(32);
const hsmKey = SoftHsm.generate();

let server: KmsServer;
let dir: string;
let secrets: Secret[];

describe("nothing in the clear on disk", () => {
  before(async () => {
    dir = path.join(tempDir("kms-secrecy-"), "data");
    server = await startServer({ dir, hsmKey });
    secrets = [
      { label: "enclave name", bytes: Buffer.from(ENCLAVE) },
      ...KEYS.map((k, i) => ({ label: `key name ${i}`, bytes: Buffer.from(k) })),
      { label: "imported key name", bytes: Buffer.from(IMPORTED) },
      { label: "imported key material", bytes: importBytes },
      { label: "HSM key text", bytes: Buffer.from(hsmKey) },
      { label: "HSM key bytes", bytes: Buffer.from(hsmKey.slice("hsm:aes256:".length), "base64") },
      { label: "admin API key text", bytes: Buffer.from(server.apiKey) },
      { label: "admin API key seed", bytes: Buffer.from(server.apiKey.slice(3), "base64url") },
    ];
  });
  after(cleanup);

  it("the scanner finds a secret written raw, as hex, or inside base64 at any alignment", () => {
    const control = tempDir("kms-scan-control-");
    const secret: Secret = { label: "control", bytes: importBytes };
    const b64At = (pad: number) => Buffer.concat([randomBytes(pad), importBytes, randomBytes(5)]).toString("base64");
    const variants = [
      Buffer.concat([randomBytes(7), importBytes, randomBytes(3)]),
      Buffer.from(`{"k":"${importBytes.toString("hex")}"}`),
      Buffer.from(importBytes.toString("hex").toUpperCase()),
      Buffer.from(b64At(0)), Buffer.from(b64At(1)), Buffer.from(b64At(2)),
      Buffer.from(Buffer.concat([randomBytes(1), importBytes]).toString("base64url")),
    ];
    variants.forEach((v, i) => {
      const file = path.join(control, `f${i}`);
      writeFileSync(file, v);
      assert.ok(findSecrets(control, [secret]).some((f) => f.includes(`f${i}`)), `variant ${i} is found`);
    });
    assert.deepEqual(findSecrets(control, [{ label: "absent", bytes: randomBytes(32) }]), []);
  });

  it("while the server runs, no file (WAL included) holds a secret", async () => {
    const c = oneShotClient(server);
    await c.createEnclave(ENCLAVE);
    for (const k of KEYS) {
      await c.createKey(ENCLAVE, k);
      await c.createKey(ENCLAVE, k, "", true);
    }
    await c.importKey(ENCLAVE, IMPORTED, importBytes);
    await c.encrypt(ENCLAVE, IMPORTED, Buffer.from("plaintext"));
    const wal = path.join(dir, "kms.db-wal");
    await waitUntil(() => existsSync(wal) && statSync(wal).size > 0, "the WAL to hold the acknowledged writes");
    const files = filesUnder(dir).map((f) => path.relative(dir, f)).sort();
    assert.ok(files.includes("kms.db-wal"), `the scan covers the WAL (files: ${files.join(", ")})`);
    assert.deepEqual(findSecrets(dir, secrets), []);
    assert.ok(!server.output().includes(hsmKey), "the server never prints the HSM key");
  });

  it("data files are owner-only", () => {
    assert.equal(statSync(dir).mode & 0o777, 0o700, "the data directory");
    for (const f of filesUnder(dir)) {
      const name = path.relative(dir, f);
      if (name === "ca.crt" || name === "cluster.id") continue; // the cluster CA's public certificate, the public cluster id
      assert.equal(statSync(f).mode & 0o077, 0, `${name} is not readable by group or others`);
    }
  });

  it("after kill -9, no file holds a secret", async () => {
    server.process.kill("SIGKILL");
    await server.stop();
    assert.ok(existsSync(path.join(dir, "kms.db-wal")), "the WAL was left behind by the crash");
    assert.deepEqual(findSecrets(dir, secrets), []);
  });

  it("after a restart and a clean stop, the state is there and still no file holds a secret", async () => {
    server = await startServer({ dir, hsmKey });
    const c = oneShotClient(server);
    // The secrets really are in the state: the scan had something to find.
    const names = ((await c.listKeys(ENCLAVE)).keys as Array<{ name: string }>).map((k) => k.name);
    assert.deepEqual(names, [...KEYS, IMPORTED].sort());
    const mac = await c.mac(ENCLAVE, IMPORTED, Buffer.from("m"));
    assert.equal((mac.mac as Uint8Array).length, 32);
    assert.deepEqual(findSecrets(dir, secrets), [], "while running after the restart");
    const code = await stopWithin(server, "SIGTERM", 10_000);
    assert.equal(code, 0, `clean stop:\n${redactedOutput(server)}`);
    assert.deepEqual(findSecrets(dir, secrets), [], "after the clean stop");
  });
});

describe("a deleted key is erased from every file of every node", () => {
  const hsmKey = SoftHsm.generate();
  const material = randomBytes(32);
  let nodes: KmsServer[];
  before(async () => {
    nodes = [await startServer({ hsmKey }), await startServer({ hsmKey })];
    await nodes[0].client().addNode(nodes[1].address);
  });
  after(cleanup);

  it("after rm-key --all, neither its bytes nor any row that held them (sealed) is in any file, WAL included", async () => {
    const c = nodes[0].client();
    await c.createEnclave("erase");
    await c.importKey("erase", "doomed", material);
    await c.createKey("erase", "kept");
    await c.encrypt("erase", "doomed", Buffer.from("in use"));
    const holds = (plain: Uint8Array) => Buffer.from(plain).includes(material) || Buffer.from(plain).includes(material.toString("base64"));
    // With the HSM key, the rows that hold the key: its key ring and the log's key.create entry.
    const secrets: Secret[] = [{ label: "key bytes", bytes: material }];
    for (const [i, n] of nodes.entries()) {
      const rows = (await openedRows(n.dir, hsmKey)).filter((r) => holds(r.plain));
      assert.deepEqual(rows.map((r) => r.key.replace(/\d+$/, "N")).sort(), ["k/erase/doomed", "r/e/N"], `node ${i} holds the key in its ring and its log`);
      secrets.push(...rows.map((r) => ({ label: `node ${i}'s sealed ${r.key}`, bytes: r.value })));
    }
    const r = await runKms(["rm-key", "--force", "--enclave", "erase", "--all", "doomed"], nodes[0].env());
    assert.equal(r.code, 0, r.stderr);
    for (const [i, n] of nodes.entries()) {
      // Erasing follows the deletion on each node without being awaited by it: wait, with a deadline.
      await waitUntil(() => findSecrets(n.dir, secrets).length === 0, `node ${i}'s files to hold no trace of the deleted key`, 20_000)
        .catch((err) => assert.fail(`${err.message}: ${findSecrets(n.dir, secrets).join("; ")}`));
    }
    for (const n of nodes) assert.equal(await stopWithin(n, "SIGTERM", 10_000), 0, redactedOutput(n));
    for (const [i, n] of nodes.entries()) {
      assert.deepEqual(findSecrets(n.dir, secrets), [], `node ${i} after a clean stop`);
      const rows = await openedRows(n.dir, hsmKey);
      assert.deepEqual(rows.filter((r) => holds(r.plain)).map((r) => r.key), [], `node ${i}: no record opens to the key`);
      assert.ok(rows.some((r) => r.key === "k/erase/kept"), `node ${i} keeps the other key`);
    }
  });
});
