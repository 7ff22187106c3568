/**
 * The README's `deno task dev` as written, with a Deno on the PATH (here the
 * npm package's binary, linked into a directory of its own): the server
 * starts under Deno and answers one request with an exact Content-Length.
 * Inside the task `deno` used to resolve to node_modules/.bin/deno, which
 * Deno then ran as a script ("Invalid or unexpected token").
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { after, it } from "node:test";
import { rawRequest, waitUntil } from "../helpers/e2e.ts";
import { cleanup, tempDir } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

after(cleanup);

it("deno task dev starts the server under Deno and it answers", async () => {
  await devUnderDeno([], async () => {});
});

it("under Deno, --threads 2 says it serves with one thread, and serves", async () => {
  await devUnderDeno(["--threads", "2"], async (out) => {
    assert.match(out, /serving with one thread, not 2: Deno/);
  });
});

/** Runs `deno task dev --addr 127.0.0.1:0 [extra…] DIR`, checks one request is answered, then `check`s the output. */
async function devUnderDeno(extra: string[], check: (out: string) => Promise<void>): Promise<void> {
  const dir = tempDir("kms-deno-dev-");
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  symlinkSync(path.join(ROOT, "node_modules/deno/deno"), path.join(bin, "deno"));
  // Detached: the task and the Deno it starts form one process group, stopped together.
  const child = spawn("deno", ["task", "dev", "--addr", "127.0.0.1:0", ...extra, path.join(dir, "kms0")], {
    cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" },
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const port = await waitUntil(() => {
      if (child.exitCode !== null) throw new Error(`deno task dev exited:\n${out}`);
      return Number(/Listening on\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
    }, `deno task dev to listen:\n${out}`, 60_000);
    const ca = readFileSync(path.join(dir, "kms0/ca.crt"), "utf8");
    const r = await rawRequest({ port, ca, apiKey: "" }, { path: "/version", apiKey: null });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-length"], String(r.body.length));
    assert.equal(typeof JSON.parse(r.body.toString()).version, "string");
    assert.doesNotMatch(out, /SyntaxError|error:/i);
    await check(out);
  } finally {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch { /* already gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch { /* stopped */ }
  }
}
