/**
 * The benchmark harness: starts real servers, drives them from load-generating
 * worker processes over keep-alive mutual-TLS connections, prints every figure
 * beside its ceiling measured in the same run, and writes a JSON result and an
 * SVG chart into bench/results/. What each row means: bench/README.md.
 * Run: bun bench/run.ts [--quick] [--keys N] [--seconds S] … (--help)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateRows } from "./scenarios/generate.ts";
import { threadRows } from "./scenarios/threads.ts";
import { observeRows } from "./scenarios/observe.ts";
import { scaleRows } from "./scenarios/scale.ts";
import { writeRows } from "./scenarios/writes.ts";
import { Bench, type BenchOptions } from "./support/bench.ts";
import { chart } from "./support/chart.ts";
import { CORES } from "./support/proc.ts";
import { heading, num, type Row, summaryTable } from "./support/report.ts";
import { Fleet, ROOT } from "./support/servers.ts";

const SECTIONS = {
  generate: { title: "GENERATE, with the crypto and TLS stack ceilings", run: generateRows },
  threads: { title: "GENERATE with one serving thread and one per core (--threads)", run: threadRows },
  writes: { title: "Writes (key creates), with the durable-commit ceiling", run: writeRows },
  scale: { title: "Key scale", run: scaleRows },
  observe: { title: "What metrics and the audit trail cost", run: observeRows },
} as const;
type Section = keyof typeof SECTIONS;

const HELP = `Usage: bun bench/run.ts [options]

Runs every benchmark row against real server processes and prints each figure
beside its ceiling (measured in the same run) as a ratio. Writes
bench/results/NAME.json and NAME.svg.

Options:
  --quick           a smoke run of every row (~1 minute): 1 s per load, 1,000 keys
  --seconds S       measured seconds per load (default 5; --quick 1)
  --keys N          keys of the key-scale rows (default 20000; --quick 1000)
  --workers W       load-generating processes (default ${Math.max(2, CORES)})
  --only LIST       sections to run, comma-separated: ${Object.keys(SECTIONS).join(",")}
  --binary PATH     run kms from a compiled binary (default: the sources under Bun; or $KMS_BINARY)
  --profile DIR     run kms servers under Bun's CPU profiler (sources only); profiles land in DIR
  --out DIR         where results go (default bench/results)
  --name NAME       result file name (default run-<date>)
  --baseline FILE   print its figures beside this run's (default bench/results/baseline.json; "none": off)
`;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    keys: { type: "string" },
    workers: { type: "string" },
    only: { type: "string" },
    binary: { type: "string" },
    profile: { type: "string" },
    out: { type: "string" },
    name: { type: "string" },
    baseline: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

/** A positive number option, or the default; anything else stops the run with a message. */
function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive number, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const opts: BenchOptions = {
  quick: values.quick,
  seconds: positive("seconds", values.seconds, values.quick ? 1 : 5),
  keys: Math.round(positive("keys", values.keys, values.quick ? 1000 : 20_000)),
  workers: Math.round(positive("workers", values.workers, Math.max(2, CORES))),
};
const only = (values.only ?? Object.keys(SECTIONS).join(",")).split(",").map((s) => s.trim()) as Section[];
const unknown = only.filter((s) => !(s in SECTIONS));
if (unknown.length) {
  console.error(`bench: unknown section ${unknown.join(", ")}; the sections are ${Object.keys(SECTIONS).join(", ")}`);
  process.exit(2);
}
const binary = values.binary ?? process.env.KMS_BINARY;
if (values.profile && binary) {
  console.error("bench: --profile needs the sources (Bun's profiler), not --binary");
  process.exit(2);
}
const profileDir = values.profile ? path.resolve(values.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const outDir = path.resolve(values.out ?? path.join(ROOT, "bench/results"));
const name = values.name ?? `run-${new Date().toISOString().replace(/[:.]/g, "-")}`;
const baselineFile = values.baseline ?? path.join(ROOT, "bench/results/baseline.json");
const baseline = new Map<string, Row>();
if (baselineFile !== "none" && existsSync(baselineFile)) {
  for (const row of (JSON.parse(readFileSync(baselineFile, "utf8")) as { rows: Row[] }).rows) baseline.set(row.id, row);
}

/** Output of a command, or undefined when it fails (no git in a tarball, say). */
function output(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

const machine = {
  cores: CORES,
  cpu: os.cpus()[0]?.model ?? "unknown",
  memory: os.totalmem(),
  runtime: `bun ${process.versions.bun ?? "?"}`,
  kms: binary ? `binary ${binary}` : "sources",
  commit: output("git", ["rev-parse", "--short", "HEAD"]),
  loadAverageAtStart: os.loadavg()[0],
};
console.log(`# kms benchmark ${name}${opts.quick ? " (quick)" : ""}`);
console.log(`${machine.cores} cores (${machine.cpu}), ${machine.runtime}, kms from ${machine.kms}, commit ${machine.commit ?? "?"}; ` +
  `load average ${num(machine.loadAverageAtStart)} at start`);
console.log(`${opts.seconds} s per load, ${opts.workers} load workers, ${num(opts.keys)} keys; ratios are ours ÷ the ceiling, both measured in this run` +
  (baseline.size ? `; baseline from ${path.relative(process.cwd(), baselineFile)}` : ""));

const fleet = new Fleet({ binary, profileDir });
// Interrupted: stop every server this run started before leaving.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void fleet.cleanup().finally(() => process.exit(130)));
const bench = new Bench(fleet, opts, baseline);
const started = performance.now();
try {
  for (const section of only) {
    heading(SECTIONS[section].title);
    await SECTIONS[section].run(bench);
  }
} finally {
  await fleet.cleanup();
}

const result = {
  name, date: new Date().toISOString(), machine: { ...machine, loadAverageAtEnd: os.loadavg()[0] },
  options: { ...opts, sections: only }, seconds: (performance.now() - started) / 1000, rows: bench.rows,
};
mkdirSync(outDir, { recursive: true });
const jsonFile = path.join(outDir, `${name}.json`);
const svgFile = path.join(outDir, `${name}.svg`);
writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(svgFile, chart(bench.rows));
heading("Summary");
console.log(summaryTable(bench.rows, baseline));
console.log(`\n${bench.rows.length} rows in ${num(result.seconds)} s; load average ${num(os.loadavg()[0])} at the end`);
console.log(`wrote ${path.relative(process.cwd(), jsonFile)} and ${path.relative(process.cwd(), svgFile)}`);
if (profileDir) console.log(`CPU profiles (one per kms server process) in ${profileDir}`);
process.exit(0);
