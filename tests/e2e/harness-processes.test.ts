/**
 * The process helpers that keep tests from leaving processes behind
 * (tests/helpers/processes.ts): stopTree reaches a command that script(1)
 * runs in a session of its own and that shrugs off the hang-up, escalating
 * to SIGKILL when SIGTERM is ignored; leftBehind (tests/run.ts's check)
 * finds an orphan started from a checkout and nothing else.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { waitUntil } from "../helpers/e2e.ts";
import { cleanup, tempDir } from "../helpers/kms.ts";
import { leftBehind, procKey, procOf, processes, stopProcesses, stopTree } from "../helpers/processes.ts";

const BUN = path.resolve(import.meta.dirname, "../../node_modules/.bin/bun");

const mentioning = (text: string) => processes().filter((p) => p.cmdline.includes(text) || p.cwd.startsWith(text));
let dirs: string[] = [];
after(async () => {
  for (const d of dirs) await stopProcesses(mentioning(d), 1_000);
  await cleanup();
});

/** Runs, under script(1) on a pseudo-terminal, a Bun process that ignores SIGHUP (and SIGTERM if asked); resolves to script's pid and the inner pid. */
async function underScript(dir: string, ignoreTerm: boolean): Promise<{ script: number; inner: number; exited: Promise<void> }> {
  const pidFile = path.join(dir, "inner.pid");
  const code = `process.on("SIGHUP", () => {});${ignoreTerm ? ` process.on("SIGTERM", () => {});` : ""}` +
    ` require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`;
  const child = spawn("script", ["-qfec", `'${BUN}' -e '${code}' '${dir}'`, "/dev/null"], { stdio: ["pipe", "ignore", "ignore"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, "utf8") !== "", "the command under script to start", 30_000);
  return { script: child.pid!, inner: Number(readFileSync(pidFile, "utf8")), exited };
}

describe("stopTree", () => {
  it("stops a command that script(1) runs in a session of its own and that ignores the hang-up", async () => {
    const dir = tempDir("kms-proc-");
    dirs.push(dir);
    const { script, inner, exited } = await underScript(dir, false);
    assert.notEqual(procOf(inner)?.ppid, undefined, "the command runs");
    const killed = await stopTree(script, 10_000);
    await exited;
    assert.equal(procOf(inner), undefined, "the command under script stopped");
    assert.deepEqual(killed, [], "SIGTERM was enough");
    assert.deepEqual(mentioning(dir), []);
  });

  it("SIGKILLs after the deadline what ignores SIGTERM", async () => {
    const dir = tempDir("kms-proc-");
    dirs.push(dir);
    const { script, inner, exited } = await underScript(dir, true);
    const killed = await stopTree(script, 500);
    await exited;
    assert.equal(procOf(inner), undefined, "the command under script stopped");
    assert.ok(killed.some((p) => p.pid === inner), "it needed SIGKILL");
  });
});

describe("leftBehind", () => {
  it("finds an orphan working in the checkout, not what ran before, not a sibling directory's", async () => {
    const root = tempDir("kms-proc-");
    const sibling = `${root}-sibling`;
    mkdirSync(sibling);
    dirs = [...dirs, root, sibling];
    const orphan = (cwd: string) =>
      new Promise<number>((resolve) => {
        // The shell prints the pid of its background sleep and exits: the sleep is adopted elsewhere.
        const sh = spawn("sh", ["-c", "sleep 600 >/dev/null 2>&1 & echo $!"], { cwd, stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        sh.stdout.on("data", (d) => (out += d));
        sh.once("close", () => resolve(Number(out.trim())));
      });
    const earlier = await orphan(root);
    const before = new Set(processes().map(procKey));
    const [later, elsewhere] = [await orphan(root), await orphan(sibling)];
    const found = leftBehind(root, before);
    assert.deepEqual(found.map((p) => p.pid), [later], `found: ${found.map((p) => p.cmdline).join("; ")} (earlier ${earlier}, elsewhere ${elsewhere})`);
    assert.notEqual(procOf(later)?.ppid, process.pid, "its parent is gone");
    await stopProcesses(mentioning(root).concat(mentioning(sibling)), 5_000);
    assert.deepEqual(leftBehind(root, new Set()), []);
  });
});
