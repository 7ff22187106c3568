/**
 * Rows "threads.*": GENERATE against one kms server with one serving thread
 * and with one per core (`--threads`), single-op and pipelined, each pair
 * measured in turns (A B A B) so both see the same machine; the ratio is
 * the threaded server's throughput over the one-thread server's. Server CPU
 * is every thread of the process (/proc), so the notes say whether the
 * server uses more than 1.6 cores: on a machine where the load generator
 * shares the cores, that is what the server can take.
 */
import type { Bench } from "../support/bench.ts";
import { cryptoCeiling, type CryptoCeiling } from "../support/ceilings.ts";
import { combine, type LoadResult } from "../support/load.ts";
import { CORES } from "../support/proc.ts";
import { ms, num } from "../support/report.ts";
import type { KmsProcess } from "../support/servers.ts";
import { prepareKms, SINGLE_CONNECTIONS, singleGenerate } from "./generate.ts";

/** More connections than generate.pipelined's 4, so the kernel gives every thread some. */
const PIPELINED_CONNECTIONS = 8;
const FRAMES = 1000;

/** Single-op and pipelined GENERATE with --threads 1 and --threads CORES (at least 2). */
export async function threadRows(b: Bench): Promise<void> {
  const threads = Math.max(2, CORES);
  const one = await b.fleet.startKms({ args: ["--threads", "1"] });
  let many: KmsProcess | undefined;
  try {
    many = await b.fleet.startKms({ args: ["--threads", String(threads)] });
    for (const s of [one, many]) await prepareKms(s);
    for (const s of [one, many]) await b.warmup(s, singleGenerate(), SINGLE_CONNECTIONS);
    const single = (await b.interleave([one, many].map((s) => (seconds: number) => b.load(s, singleGenerate(), SINGLE_CONNECTIONS, { seconds, warmup: false })))).map(combine);
    addPair(b, "single", `GENERATE, 1 op/request, ${SINGLE_CONNECTIONS} connections`, threads, single, "requests per server CPU-second: see generate.single");

    for (const s of [one, many]) await b.warmup(s, singleGenerate(FRAMES), PIPELINED_CONNECTIONS, { opsPerRequest: FRAMES });
    const [cryptoTurns, ...piped] = await b.interleave<unknown>([
      (seconds) => Promise.resolve(cryptoCeiling(seconds / 2)),
      ...[one, many].map((s) => (seconds: number) => b.load(s, singleGenerate(FRAMES), PIPELINED_CONNECTIONS, { opsPerRequest: FRAMES, seconds, warmup: false })),
    ]) as [CryptoCeiling[], LoadResult[], LoadResult[]];
    const dek = cryptoTurns.reduce((sum, c) => sum + c.generatePerCpuSec, 0) / cryptoTurns.length;
    const [p1, pn] = piped.map(combine);
    addPair(b, "pipelined", `GENERATE, ${num(FRAMES)} frames/request, ${PIPELINED_CONNECTIONS} connections`, threads, [p1, pn],
      `per server CPU-second ÷ in-process DEK generation (${num(dek)}/CPU-s): 1 thread ${num(p1.opsPerServerCpuSec / dek)}, ${threads} threads ${num(pn.opsPerServerCpuSec / dek)} (goal ≥ 0.8); ` +
      `ops/s = ${num(pn.opsPerSec / (dek * CORES))} × cores × ceiling`);
  } finally {
    await one.stop();
    await many?.stop();
  }
}

/** Rows threads.<kind>.1 and threads.<kind>.all (N threads): N threads' ops/s ÷ one thread's. */
function addPair(b: Bench, kind: string, label: string, threads: number, [one, many]: LoadResult[], more: string): void {
  const cores = (r: LoadResult) => `server ${num(r.serverCores)} cores (${r.serverCores > 1.6 ? "above" : "not above"} 1.6), client ${num(r.clientCores)} cores, p50 ${ms(r.p50Ms)}`;
  b.add({
    id: `threads.${kind}.1`, label: `${label}, --threads 1`,
    value: one.opsPerSec, unit: "ops/s", perCpu: one.opsPerServerCpuSec,
    notes: `${cores(one)}; the ceiling of threads.${kind}.all`, detail: { load: one },
  });
  b.add({
    id: `threads.${kind}.all`, label: `${label}, --threads ${threads}`,
    value: many.opsPerSec, unit: "ops/s", perCpu: many.opsPerServerCpuSec,
    ceiling: { label: "--threads 1", value: one.opsPerSec, unit: "ops/s" }, ratio: many.opsPerSec / one.opsPerSec, ratioOf: "value",
    notes: `${cores(many)}; per server CPU-second ${num(many.opsPerServerCpuSec / one.opsPerServerCpuSec)} × one thread's; ${more}; measured in turns with --threads 1`,
    detail: { load: many },
  });
}
