/**
 * The whole test suite: builds the binary, runs every test under Bun (unit and
 * end-to-end, against the sources and the compiled binary), runs the unit
 * tests under Deno, and prints the closing line `N passed, N failed`. A step
 * that leaves a process of this checkout running fails, naming it (and the
 * process is stopped): tests stop every process they start.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { leftBehind, procKey, processes, procLine, stopProcesses } from "./helpers/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules/.bin");

interface Step {
  readonly name: string;
  readonly cmd: string[];
  readonly env?: Record<string, string>;
  /** Extracts [passed, failed] from the step's output. */
  readonly count?: (out: string) => [number, number];
}

const bunCount = (out: string): [number, number] => [last(out, /^\s*(\d+) pass$/gm), last(out, /^\s*(\d+) fail$/gm)];
// Deno's summary: "ok | 277 passed (37 steps) | 0 failed". Count top-level tests only: a failing
// step fails its parent too, and adding steps would count describe() blocks as tests.
const denoCount = (out: string): [number, number] => {
  const line = out.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => /passed.*\|.*failed/.test(l)).pop() ?? "";
  const m = /(\d+) passed[^|]*\|\s*(\d+) failed/.exec(line);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};

function last(out: string, re: RegExp): number {
  const all = [...out.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

const only = process.argv.slice(2);
const steps: Step[] = [
  { name: "compile", cmd: [path.join(ROOT, "compile.sh")] },
  { name: "typecheck", cmd: [`${BIN}/tsc`, "-p", "."] },
  { name: "typecheck (console page)", cmd: [`${BIN}/tsc`, "-p", "console"] },
  { name: "bun: unit and end-to-end tests (sources)", cmd: [`${BIN}/bun`, "test", "--timeout", "120000", ...(only.length ? only : ["lib", "tests/e2e", "tests/architecture.test.ts"])], count: bunCount },
  {
    name: "bun: end-to-end tests (compiled binary)",
    cmd: [`${BIN}/bun`, "test", "--timeout", "120000", "tests/binary"],
    env: { KMS_BINARY: "dist/kms" },
    count: bunCount,
  },
  { name: "deno: unit tests", cmd: [`${BIN}/deno`, "test", "-A", "--no-check", "lib/"], count: denoCount },
];

function run(step: Step): Promise<{ code: number; out: string }> {
  console.log(`\n=== ${step.name}: ${step.cmd.map((c) => path.relative(ROOT, c) || c).join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(step.cmd[0], step.cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...step.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const tee = (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    };
    child.stdout.on("data", tee);
    child.stderr.on("data", tee);
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

// Failed tests, repeated just above the closing line so that the tail of a long log says what broke:
// each name once (bun lists failures twice), after the last lines it printed before failing.
function failures(out: string): string[] {
  const lines = out.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trimEnd());
  const seen = new Set<string>(), report: string[] = [];
  let since = 0;
  lines.forEach((l, i) => {
    const t = l.trim();
    if (/^\(fail\) |\.\.\. FAILED/.test(t) && !seen.has(t)) {
      seen.add(t);
      const before = lines.slice(since, i).filter((x) => x.trim() && !/^\s+at /.test(x)).slice(-24);
      report.push(...before.map((x) => `    | ${x}`), t);
    }
    if (/^\((pass|fail|skip)\) |\.\.\. (ok|FAILED)/.test(t)) since = i + 1;
  });
  return report;
}

/**
 * The processes a step left running: started while it ran (not in `before`), from this checkout
 * (its path in their command line, or their working directory or executable in it; a copy of the
 * checkout in a temporary directory runs its node_modules' Bun). Each gets a moment to finish
 * exiting, then is stopped (SIGTERM, then SIGKILL). Assumes nobody else starts processes from
 * this checkout meanwhile (CI runs a clean clone).
 */
async function strays(before: ReadonlySet<string>): Promise<string[]> {
  const deadline = Date.now() + 3_000;
  let left = leftBehind(ROOT, before);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftBehind(ROOT, before);
  }
  const lines = left.map(procLine);
  if (left.length) await stopProcesses(left, 5_000).catch((err) => lines.push((err as Error).message));
  return lines;
}

let passed = 0, failed = 0;
const failedNames: string[] = [];
for (const step of only.length ? steps.filter((s) => s.name.includes("sources")) : steps) {
  const before = new Set(processes().map(procKey));
  const { code, out } = await run(step);
  failedNames.push(...failures(out).map((l) => (l.startsWith("    |") ? l : `${step.name}: ${l}`)));
  const left = await strays(before);
  if (left.length) {
    failed++;
    const what = `${step.name}: left ${left.length} process(es) running after its tests ended (stopped now; a test must stop what it starts):`;
    console.log(`\n=== ${what}\n${left.map((l) => `    ${l}`).join("\n")}`);
    failedNames.push(what, ...left.map((l) => `    | ${l}`));
  }
  if (step.count) {
    const [p, f] = step.count(out);
    passed += p;
    // A runner that died without counting still failed.
    failed += f || (code !== 0 ? 1 : 0);
  } else if (code !== 0) {
    failed++;
    console.log(`=== ${step.name} failed (exit ${code})`);
  }
}
if (failedNames.length) console.log(`\n=== failed:\n${failedNames.join("\n")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
