/**
 * Rows "generate.*": KEY:GENERATE over the native protocol against one real
 * kms server, one operation per request and 1,000 frames per request, and
 * what a 10,000-frame request does to a concurrent single one.
 */
import { newApiKey } from "../../lib/identity/apikey.ts";
import type { Bench, Target } from "../support/bench.ts";
import { type CryptoCeiling, cryptoCeiling } from "../support/ceilings.ts";
import { combine, type LoadResult, runLoad } from "../support/load.ts";
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

/**
 * The crypto ceiling, the TLS stack's ceilings, single-op and pipelined
 * GENERATE (each measured in turns with its ceiling), and head-of-line blocking.
 */
export async function generateRows(b: Bench): Promise<void> {
  const raw = await b.fleet.startEmpty("raw");
  const hono = await b.fleet.startEmpty("hono");
  const server = await b.fleet.startKms();
  try {
    await prepareKms(server);
    const clientKey = newApiKey(); // the empty handlers take any client certificate
    const targets: Target[] = [{ ...raw, apiKey: clientKey }, { ...hono, apiKey: clientKey }, server];
    for (const t of targets) await b.warmup(t, singleGenerate(), SINGLE_CONNECTIONS);
    const turns = await b.interleave(targets.map((t) => (seconds: number) => b.load(t, singleGenerate(), SINGLE_CONNECTIONS, { seconds, warmup: false })));
    const [bare, adapted, single] = turns.map(combine);
    await raw.stop();
    await hono.stop();
    const inTurns = `measured in ${turns[0].length} turn${turns[0].length > 1 ? "s" : ""} with its ceiling`;
    b.add({
      id: "stack.raw", label: `empty handler, node:tls → node:http, client cert, ${SINGLE_CONNECTIONS} connections`,
      value: bare.requestsPerSec, unit: "req/s", perCpu: bare.requestsPerServerCpuSec,
      notes: `${latency(bare)}; the ceiling of generate.single`, detail: { load: bare },
    });
    b.add({
      id: "stack.hono", label: `empty hono app via lib/net/serve.ts, client cert, ${SINGLE_CONNECTIONS} connections`,
      value: adapted.requestsPerSec, unit: "req/s", perCpu: adapted.requestsPerServerCpuSec,
      ceiling: { label: "bare stack", value: bare.requestsPerServerCpuSec, unit: "req/CPU-s" },
      ratio: adapted.requestsPerServerCpuSec / bare.requestsPerServerCpuSec, ratioOf: "perCpu",
      notes: `${latency(adapted)}; what hono's adapter and router cost`, detail: { load: adapted },
    });
    b.add({
      id: "generate.single", label: `GENERATE, 1 op/request, ${SINGLE_CONNECTIONS} connections`,
      value: single.opsPerSec, unit: "ops/s", perCpu: single.opsPerServerCpuSec,
      ceiling: { label: "empty handler", value: bare.requestsPerServerCpuSec, unit: "req/CPU-s" },
      ratio: single.opsPerServerCpuSec / bare.requestsPerServerCpuSec, ratioOf: "perCpu", goal: "≥ 0.9",
      notes: `${latency(single)}; ${inTurns}`, detail: { load: single },
    });

    await b.warmup(server, singleGenerate(FRAMES), PIPELINED_CONNECTIONS, { opsPerRequest: FRAMES });
    const [cryptoTurns, pipedTurns] = await b.interleave<unknown>([
      // The in-process ceiling measures two figures, each for half the turn.
      (seconds) => Promise.resolve(cryptoCeiling(seconds / 2)),
      (seconds) => b.load(server, singleGenerate(FRAMES), PIPELINED_CONNECTIONS, { opsPerRequest: FRAMES, seconds, warmup: false }),
    ]) as [CryptoCeiling[], LoadResult[]];
    const mean = (f: (c: CryptoCeiling) => number) => cryptoTurns.reduce((sum, c) => sum + f(c), 0) / cryptoTurns.length;
    const dek = mean((c) => c.generatePerCpuSec), aes = mean((c) => c.rawAesGcmPerCpuSec);
    b.add({
      id: "crypto.dek", label: "DEK generation in-process, 1 thread (kms crypto over node:crypto)",
      value: dek, unit: "ops/CPU-s",
      ceiling: { label: "raw AES-256-GCM, 32 bytes", value: aes, unit: "ops/CPU-s" }, ratio: dek / aes, ratioOf: "value",
      notes: "the ceiling of every GENERATE row: one core's worth of the server's own crypto",
      detail: { turns: cryptoTurns },
    });
    const piped = combine(pipedTurns);
    const allCores = piped.opsPerSec / (dek * CORES);
    b.add({
      id: "generate.pipelined", label: `GENERATE, ${num(FRAMES)} frames/request, ${PIPELINED_CONNECTIONS} connections`,
      value: piped.opsPerSec, unit: "ops/s", perCpu: piped.opsPerServerCpuSec,
      ceiling: { label: "in-process DEK generation", value: dek, unit: "ops/CPU-s" }, ratio: piped.opsPerServerCpuSec / dek,
      ratioOf: "perCpu", goal: "≥ 0.8 per CPU-s, server > 1.6 cores",
      notes: `server ${num(piped.serverCores)} cores, client ${num(piped.clientCores)} cores; ops/s = ${num(allCores)} × cores × ceiling ` +
        `(${CORES} cores; goal ≥ 0.8 when the client has cores of its own); p50 ${ms(piped.p50Ms)} per request; ${inTurns}`,
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
      notes: `${ms(beside.p99Ms - alone.p99Ms)} more than alone; a ${num(BIG_FRAMES)}-frame request takes p50 ${ms(big.p50Ms)}, ${num(big.opsPerSec)} frames/s`,
      detail: { alone, beside, big },
    });
    b.add({
      id: "generate.head-of-line.p50", label: `single GENERATE p50 beside ${num(BIG_FRAMES)}-frame requests (1 connection each)`,
      value: beside.p50Ms, unit: "ms",
      ceiling: { label: "alone", value: alone.p50Ms, unit: "ms" }, ratio: beside.p50Ms / alone.p50Ms, ratioOf: "value",
      goal: "at most a few ms more than alone",
      notes: `${ms(beside.p50Ms - alone.p50Ms)} more than alone (same run as generate.head-of-line)`,
    });
  } finally {
    await server.stop();
  }
}

/** Latency and cores busy, as a row's note puts them. */
function latency(r: LoadResult): string {
  return `p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}; server ${num(r.serverCores)} cores, client ${num(r.clientCores)} cores`;
}
