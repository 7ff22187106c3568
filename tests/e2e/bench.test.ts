/**
 * The benchmark harness in its quickest mode (a smoke run, seconds): every row
 * is printed and lands in valid JSON, no request of any load failed, and the
 * chart is written. No timing is asserted: the figures are the harness's job.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cleanup, tempDir } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BUN = path.join(ROOT, "node_modules/.bin/bun");

// Every row issues 12 and 13 ask for, named independently of the harness's code.
const ROWS = [
  "observe.pipelined", "observe.single",
  "crypto.dek", "store.commit", "stack.raw", "stack.hono",
  "generate.single", "generate.pipelined", "generate.head-of-line", "generate.head-of-line.p50",
  "threads.single.1", "threads.single.all", "threads.pipelined.1", "threads.pipelined.all",
  "writes.1node.1", "writes.1node.8", "writes.1node.64", "writes.3node.1", "writes.3node.8", "writes.3node.64", "writes.3node.1.via-follower",
  "scale.seed", "scale.rss", "scale.rss.settled", "scale.startup", "scale.generate", "scale.list.first", "scale.list.middle", "scale.list.last", "scale.disk",
];

/** Runs `bun bench/run.ts ARGS…` to completion (killed after the deadline). */
function bench(args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BUN, [path.join(ROOT, "bench/run.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, out });
    });
  });
}

/** Every `errors` count found in a row's detail (load results nest). */
function errorCounts(value: unknown): number[] {
  if (typeof value !== "object" || value === null) return [];
  const own = typeof (value as { errors?: unknown }).errors === "number" ? [(value as { errors: number }).errors] : [];
  return [...own, ...Object.values(value).flatMap(errorCounts)];
}

describe("bench/run.ts", () => {
  after(cleanup);

  it("prints every row, writes valid JSON and an SVG, and no request fails (smoke run)", { timeout: 180_000 }, async () => {
    const out = tempDir("kms-bench-test-");
    const r = await bench(["--quick", "--seconds", "0.1", "--keys", "30", "--workers", "1", "--out", out, "--name", "smoke", "--baseline", "none"], 170_000);
    assert.equal(r.code, 0, r.out);
    for (const id of ROWS) assert.match(r.out, new RegExp(`^- \\[${id.replace(/\./g, "\\.")}\\] `, "m"), `row ${id} not printed:\n${r.out}`);
    assert.doesNotMatch(r.out, /requests failed/, r.out);

    const result = JSON.parse(readFileSync(path.join(out, "smoke.json"), "utf8"));
    assert.deepEqual(result.rows.map((row: { id: string }) => row.id).sort(), [...ROWS].sort());
    for (const row of result.rows) {
      assert.equal(typeof row.label, "string");
      assert.equal(typeof row.unit, "string");
      assert.ok(Number.isFinite(row.value), `${row.id}: value ${row.value}`);
      assert.deepEqual(errorCounts(row.detail).filter((n) => n > 0), [], `${row.id}: failed requests`);
    }
    assert.equal(result.machine.cores > 0, true);
    assert.match(readFileSync(path.join(out, "smoke.svg"), "utf8"), /^<svg [^>]*>.*<\/svg>\n$/s);
  });

  it("refuses a bad option with a message and starts nothing", async () => {
    const r = await bench(["--seconds", "soon"], 30_000);
    assert.equal(r.code, 2);
    assert.match(r.out, /--seconds must be a positive number, not "soon"/);
    const s = await bench(["--only", "writes,nonsense"], 30_000);
    assert.equal(s.code, 2);
    assert.match(s.out, /unknown section nonsense/);
  });
});
