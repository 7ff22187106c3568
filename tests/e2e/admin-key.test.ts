/**
 * The HSM-derived admin API key: it never reaches a log (printed only to a
 * terminal, else written once to DIR/admin.key with mode 0600), it is per
 * cluster (two clusters sharing an HSM key have different ones), and an
 * operator can disable it on every node once a SysAdmin is stored, and
 * re-enable it only with proof of the HSM key.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { KmsClientError } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { credentialsOf, readClusterId } from "../../lib/server/admin-key.ts";
import { adminKeyProof } from "../../lib/node/admin-key.ts";
import { newCredentials } from "../../lib/node/credentials.ts";
import { startCluster } from "../helpers/cluster.ts";
import { kmsCommand, runKms, startServer, tempDir, cleanup } from "../helpers/kms.ts";
import { processes, procLine, stopTree } from "../helpers/processes.ts";

after(cleanup);

/** Resolves to the error's HTTP status (the call must fail). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (err) {
    if (err instanceof KmsClientError) return err.status;
    throw err;
  }
  assert.fail("the call succeeded");
}

describe("the admin API key", () => {
  it("is not printed when the output is not a terminal: it is written once to DIR/admin.key, mode 0600", async () => {
    const hsmKey = SoftHsm.generate();
    const server = await startServer({ hsmKey, keepAdminKeyFile: true });
    const file = path.join(server.dir, "admin.key");
    assert.ok(!server.output().includes(server.apiKey), "the key is not in the server's (non-terminal) output");
    assert.ok(!server.output().includes(server.apiKey.slice(3)), "nor its seed");
    assert.ok(server.output().includes(file), "the output says where the key is");
    assert.equal(readFileSync(file, "utf8").trim(), server.apiKey);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((await server.client().clusterStatus()).nodes_up !== undefined, true, "the key in the file is the admin's");
    // Written once: a restart neither prints it nor writes it again, and says how to get it.
    rmSync(file);
    assert.equal(await server.stop(), 0);
    const again = await startServer({ dir: server.dir, hsmKey, keepAdminKeyFile: true });
    assert.ok(!existsSync(file), "a restart does not write the key again");
    assert.ok(!again.output().includes(again.apiKey));
    assert.match(again.output(), new RegExp(`kms identity --hsm ${server.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const r = await runKms(["identity", "--hsm", server.dir, "--json"], { MINIO_KMS_HSM_KEY: hsmKey });
    assert.equal(JSON.parse(r.stdout).api_key, server.apiKey);
  });

  it("is printed on a terminal (and then no file is written)", async () => {
    const dir = path.join(tempDir(), "data");
    const hsmKey = SoftHsm.generate();
    const cmd = [...kmsCommand(), "server", "--addr", "127.0.0.1:0", dir].map((a) => `'${a}'`).join(" ");
    // script(1) runs the server on a pseudo-terminal.
    const child: ChildProcess = spawn("script", ["-qfec", cmd, "/dev/null"], {
      env: { ...process.env, MINIO_KMS_HSM_KEY: hsmKey }, stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const deadline = Date.now() + 30_000;
      while (!/TLS CA/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`the server did not start on a terminal: ${out.replace(/k1:\S+/g, "k1:<redacted>")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const key = /Admin API key\s+(k1:[A-Za-z0-9_-]{43})/.exec(out)?.[1];
      assert.ok(key, "the terminal shows the key");
      assert.equal(parseApiKey(key).identity, /Admin identity\s+(h1:\S+)/.exec(out)?.[1]);
      assert.ok(!existsSync(path.join(dir, "admin.key")), "no file when the key went to a terminal");
    } finally {
      // script and the server it runs in a session of its own: killing script's group would miss the
      // server, and the hang-up of its closed terminal does not stop a server (SIGHUP reopens its audit file).
      await stopTree(child.pid!);
      await exited;
    }
    const left = processes().filter((p) => p.cmdline.includes(dir));
    assert.deepEqual(left.map(procLine), [], "the server stopped with the terminal's session");
  });

  it("differs between two clusters that share an HSM key, and one cluster's key is refused by the other", async () => {
    const hsmKey = SoftHsm.generate();
    const [a, b] = await Promise.all([startServer({ hsmKey }), startServer({ hsmKey })]);
    assert.notEqual(readClusterId(a.dir), readClusterId(b.dir));
    assert.notEqual(a.apiKey, b.apiKey);
    await a.client().createEnclave("e");
    assert.equal(await statusOf(b.client(a.apiKey).createEnclave("e")), 403);
  });

  it("can be disabled on every node once a SysAdmin is stored, and re-enabled only with proof of the HSM key", async () => {
    const cluster = await startCluster({ size: 2 });
    try {
      const admin = cluster.apiKey;
      const dir = cluster.nodes[0].dir;
      // Without a stored SysAdmin, disabling would lock everyone out.
      const refused = await cluster.cli(["admin-key", "disable"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /no SysAdmin identity is stored .*\(HTTP 409\)/);
      const sys = newApiKey();
      await cluster.client(0).createEnclave("ops");
      await cluster.client(0).createIdentity("ops", parseApiKey(sys).identity, "SysAdmin");
      const off = await cluster.cli(["admin-key", "disable"]);
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stdout, /Disabled the admin API key/);
      // No waiting: once acknowledged, every node has it (a follower's reads wait for what is pending).
      // Refused on every node, for everything; the stored SysAdmin works.
      for (const i of [0, 1]) {
        assert.equal(await statusOf(cluster.client(i, { apiKey: admin }).clusterStatus()), 403, `node ${i}`);
        assert.equal(await statusOf(cluster.client(i, { apiKey: admin }).createEnclave("x")), 403);
        await cluster.client(i, { apiKey: sys }).enclaveStatus("ops");
      }
      // The disabled key cannot turn itself back on: it needs the HSM's proof.
      const at = Date.now();
      assert.equal(await statusOf(cluster.client(1, { apiKey: admin }).setAdminKey(true, at, new Uint8Array(32))), 403);
      assert.equal(await statusOf(cluster.client(1, { apiKey: sys }).setAdminKey(true, at, new Uint8Array(32))), 403);
      const wrongHsm = adminKeyProof(newCredentials(), readClusterId(dir), at);
      assert.equal(await statusOf(cluster.client(1, { apiKey: admin }).setAdminKey(true, at, wrongHsm)), 403);
      // Nor may the disabled key do anything else in the same request.
      assert.equal(await statusOf(cluster.client(0, { apiKey: admin }).setAdminKey(false, 0, new Uint8Array())), 403);
      // Recovery: the HSM key and the data directory are enough (no API key needed).
      const on = await runKms(["admin-key", "enable", dir], { ...cluster.env(1), MINIO_KMS_API_KEY: "", MINIO_KMS_HSM_KEY: cluster.hsmKey });
      assert.equal(on.code, 0, on.stderr);
      for (const i of [0, 1]) await cluster.client(i, { apiKey: admin }).createEnclave(`back-${i}`);
      // A recorded proof cannot be played again after a later change.
      const proof = adminKeyProof(credentialsOf(dir, SoftHsm.parse(cluster.hsmKey)), readClusterId(dir), at + 1);
      await cluster.client(0, { apiKey: sys }).setAdminKey(false, 0, new Uint8Array());
      assert.equal(await statusOf(cluster.client(0, { apiKey: sys }).setAdminKey(true, at + 1, proof)), 409);
      assert.equal(await statusOf(cluster.client(0, { apiKey: admin }).clusterStatus()), 403, "still disabled");
    } finally {
      await cluster.close();
    }
  });
});
