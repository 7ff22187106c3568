/**
 * Rows "generate.*": KEY:GENERATE over the native protocol against one real
 * kms server, one operation per request and 1,000 frames per request, and
 * what a 10,000-frame request does to a concurrent single one.
 */
import type { Bench } from "../support/bench.ts";
import { runLoad } from "../support/load.ts";
import { keyName, type Load } from "../support/loads.ts";
import { CORES } from "../support/proc.ts";
import { num, ms } from "../support/report.ts";
import type { KmsProcess } from "../support/servers.ts";

/** The enclave and key prefix every GENERATE load uses. */
export const ENCLAVE = "bench";
export const KEY_PREFIX = "key-";
export const SINGLE_CONNECTIONS = 64;
const PIPELINED_CONNECTIONS = 4;
const FRAMES = 1000;
const BIG_FRAMES = 10_000;

/** One GENERATE per request on key 0 (also what the empty handlers are sent). */
export function singleGenerate(frames = 1, keys = 1): Load {
  return { kind: "generate", enclave: ENCLAVE, prefix: KEY_PREFIX, keys, frames };
}

/** Creates the benchmark enclave and its key 0 on a fresh server. */
export async function prepareKms(server: KmsProcess): Promise<void> {
  const admin = server.client();
  await admin.createEnclave(ENCLAVE);
  await admin.createKey(ENCLAVE, keyName(KEY_PREFIX, 0));
}

/** Single-op and pipelined GENERATE, and head-of-line blocking. */
export async function generateRows(b: Bench): Promise<void> {
  const server = await b.fleet.startKms();
  try {
    await prepareKms(server);
    const single = await b.load(server, singleGenerate(), SINGLE_CONNECTIONS);
    const stack = b.row("stack.raw");
    b.add({
      id: "generate.single", label: `GENERATE, 1 op/request, ${SINGLE_CONNECTIONS} connections`,
      value: single.opsPerSec, unit: "ops/s", perCpu: single.opsPerServerCpuSec,
      ...(stack?.perCpu ? { ceiling: { label: "empty handler", value: stack.perCpu, unit: "req/CPU-s" }, ratio: single.opsPerServerCpuSec / stack.perCpu } : {}),
      ratioOf: "perCpu", goal: "≥ 0.9",
      notes: `p50 ${ms(single.p50Ms)}, p99 ${ms(single.p99Ms)}; server ${num(single.serverCores)} cores, client ${num(single.clientCores)} cores`,
      detail: { load: single },
    });

    const piped = await b.load(server, singleGenerate(FRAMES), PIPELINED_CONNECTIONS, { opsPerRequest: FRAMES });
    const crypto = b.row("crypto.dek");
    const allCores = crypto ? piped.opsPerSec / (crypto.value * CORES) : undefined;
    b.add({
      id: "generate.pipelined", label: `GENERATE, ${num(FRAMES)} frames/request, ${PIPELINED_CONNECTIONS} connections`,
      value: piped.opsPerSec, unit: "ops/s", perCpu: piped.opsPerServerCpuSec,
      ...(crypto ? { ceiling: { label: "in-process DEK generation", value: crypto.value, unit: "ops/s" }, ratio: piped.opsPerServerCpuSec / crypto.value } : {}),
      ratioOf: "perCpu", goal: "≥ 0.8 per CPU-s, server > 1.6 cores",
      notes: `server ${num(piped.serverCores)} cores, client ${num(piped.clientCores)} cores; ops/s = ${num(allCores)} × cores × ceiling ` +
        `(${CORES} cores; goal ≥ 0.8 when the client has cores of its own); p50 ${ms(piped.p50Ms)} per request`,
      detail: { load: piped },
    });

    // Head-of-line: one connection's single requests, alone and beside one connection's 10,000-frame requests.
    const alone = await b.load(server, singleGenerate(), 1);
    const base = { address: server.address, ca: server.ca, apiKey: server.apiKey, serverPids: [server.pid], workers: 1, seconds: b.opts.seconds };
    const [beside, big] = await Promise.all([
      runLoad({ ...base, load: singleGenerate(), connections: 1 }),
      runLoad({ ...base, load: singleGenerate(BIG_FRAMES), connections: 1, opsPerRequest: BIG_FRAMES }),
    ]);
    b.add({
      id: "generate.head-of-line", label: `single GENERATE p99 beside ${num(BIG_FRAMES)}-frame requests (1 connection each)`,
      value: beside.p99Ms, unit: "ms",
      ceiling: { label: "alone", value: alone.p99Ms, unit: "ms" }, ratio: beside.p99Ms / alone.p99Ms, ratioOf: "value",
      goal: "at most a few ms more than alone",
      notes: `p50 ${ms(beside.p50Ms)} beside vs ${ms(alone.p50Ms)} alone; a ${num(BIG_FRAMES)}-frame request takes p50 ${ms(big.p50Ms)}`,
      detail: { alone, beside, big },
    });
  } finally {
    await server.stop();
  }
}
