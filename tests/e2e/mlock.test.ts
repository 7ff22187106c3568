/**
 * --mlock: where the process may lock memory (CAP_IPC_LOCK, or a large
 * enough LimitMEMLOCK) the server locks all of it (VmLck in
 * /proc/PID/status); where it may not, it refuses to start, saying exactly
 * what is missing, before it touches the data directory.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { lockPermissions } from "../../lib/server/mlock.ts";
import { redact, waitUntil } from "../helpers/e2e.ts";
import { cleanup, kmsCommand, startServer, tempDir } from "../helpers/kms.ts";
import { stopTree } from "../helpers/processes.ts";

const lockedKb = (pid: number) => Number(/^VmLck:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
const { capIpcLock, limitBytes } = lockPermissions();
const canLock = capIpcLock || limitBytes === Infinity;
const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0 && spawnSync("prlimit", ["--version"]).status === 0;

describe("--mlock", () => {
  after(cleanup);

  it("locks the server's memory where the process may (VmLck > 0; without --mlock, 0)", { skip: !canLock && "no CAP_IPC_LOCK and a limited LimitMEMLOCK here" }, async () => {
    const plain = await startServer();
    assert.equal(lockedKb(plain.process.pid!), 0, "nothing locked without --mlock");
    const locked = await startServer({ extraArgs: ["--mlock"] });
    const kb = lockedKb(locked.process.pid!);
    console.log(`VmLck of a server started with --mlock: ${kb} kB`);
    assert.ok(kb > 0, "VmLck > 0");
    await locked.client().createEnclave("works"); // and it serves
    const viaEnv = await startServer({ env: { MINIO_KMS_MLOCK: "on" } });
    assert.ok(lockedKb(viaEnv.process.pid!) > 0, "MINIO_KMS_MLOCK=on does the same");
  });

  it("refuses to start without CAP_IPC_LOCK and with a small LimitMEMLOCK, saying what is missing, and creates nothing", { skip: !hasSetpriv && "setpriv and prlimit are not installed" }, async () => {
    const dir = path.join(tempDir(), "data");
    const [cmd, ...pre] = kmsCommand();
    // Drop the capability from every set, and limit locked memory to 64 KiB.
    const child = spawn("setpriv", ["--inh-caps=-ipc_lock", "--ambient-caps=-ipc_lock", "--bounding-set=-ipc_lock",
      "prlimit", "--memlock=65536:65536", cmd, ...pre, "server", "--mlock", "--addr", "127.0.0.1:0", dir], {
      env: { ...process.env, MINIO_KMS_HSM_KEY: SoftHsm.generate() }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    let code: number | null | undefined;
    child.once("exit", (c, sig) => (code = c ?? (sig ? 128 : -1)));
    // A server that starts after all must not outlive the test: stop it and say so.
    await waitUntil(() => code !== undefined || /Listening on/.test(out), "the server to refuse to start", 60_000).catch(() => {});
    if (code === undefined) {
      await stopTree(child.pid!);
      assert.fail(`the server did not refuse to start without CAP_IPC_LOCK:\n${redact(out)}`);
    }
    console.log(`refusal: ${out.trim()}`);
    assert.notEqual(code, 0);
    assert.match(out, /cannot lock memory \(--mlock\): the process lacks CAP_IPC_LOCK and its locked-memory limit \(64 KiB\) is below what it maps/);
    assert.match(out, /AmbientCapabilities=CAP_IPC_LOCK/);
    assert.match(out, /LimitMEMLOCK=infinity/);
    assert.ok(!existsSync(dir), "the data directory was not created");
  });
});
