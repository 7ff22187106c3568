/**
 * Drives a server with load-generating worker processes (load-worker.ts) and
 * measures what the run cost: throughput, latency, and the CPU seconds the
 * server processes used (from /proc), so figures per server CPU-second hold
 * even when the client shares the server's cores.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { type Histogram, merge, percentile } from "./histogram.ts";
import type { Load } from "./loads.ts";
import { rssBytes, totalCpu } from "./proc.ts";
import { BUN, ROOT } from "./servers.ts";
import type { WorkerResult, WorkerSpec } from "./load-worker.ts";

/** Where and how to send a load. */
export interface LoadOptions {
  readonly address: string;
  readonly ca: string;
  readonly apiKey: string;
  /** The server processes whose CPU time the run is charged with. */
  readonly serverPids: readonly number[];
  readonly load: Load;
  /** Connections in total, each with one request in flight. */
  readonly connections: number;
  /** Worker processes the connections are spread over. */
  readonly workers: number;
  /** Operations per request (frames of a pipelined request). */
  readonly opsPerRequest?: number;
  /** Run for this long, or (create loads with a `to`) until every key is created. */
  readonly seconds?: number;
}

/** What a load run measured. */
export interface LoadResult {
  readonly requests: number;
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Wall-clock seconds from "go" to the last worker's report. */
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly requestsPerSec: number;
  /** CPU seconds the server processes used during the run, and per wall second (cores busy). */
  readonly serverCpu: number;
  readonly serverCores: number;
  readonly clientCores: number;
  readonly opsPerServerCpuSec: number;
  readonly requestsPerServerCpuSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Every request's latency, to merge with other runs. */
  readonly latency: Histogram;
  /** Highest resident memory of the (first) server seen during the run. */
  readonly peakRss: number;
}

/** Runs a load against a server and measures it. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const [host, port] = [opts.address.slice(0, opts.address.lastIndexOf(":")), Number(opts.address.slice(opts.address.lastIndexOf(":") + 1))];
  const workers = Math.max(1, Math.min(opts.workers, opts.connections));
  const specs: WorkerSpec[] = Array.from({ length: workers }, (_, w) => ({
    host, port, ca: opts.ca, apiKey: opts.apiKey,
    connections: Math.floor(opts.connections / workers) + (w < opts.connections % workers ? 1 : 0),
    load: shareOf(opts.load, w, workers),
    seconds: opts.seconds,
    untilDone: opts.load.kind === "create" && opts.load.to !== undefined && opts.seconds === undefined,
  }));
  const procs = specs.map((spec) => spawn(BUN, [path.join(ROOT, "bench/support/load-worker.ts"), JSON.stringify(spec)], { stdio: ["pipe", "pipe", "pipe"] }));
  try {
    const outputs = procs.map((p) => lines(p));
    await Promise.all(outputs.map((o) => o.next("ready")));
    const cpu0 = totalCpu(opts.serverPids), t0 = performance.now();
    let peakRss = rssBytes(opts.serverPids[0]);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(opts.serverPids[0]))), 200);
    for (const p of procs) p.stdin!.write("go\n");
    const reports: WorkerResult[] = await Promise.all(outputs.map(async (o) => JSON.parse(await o.next("{"))));
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = totalCpu(opts.serverPids) - cpu0;
    const requests = reports.reduce((s, r) => s + r.requests, 0);
    const ops = requests * (opts.opsPerRequest ?? 1);
    const latency = reports.reduce((h, r) => merge(h, r.latency), {} as Histogram);
    return {
      requests, ops,
      errors: reports.reduce((s, r) => s + r.errors, 0),
      firstError: reports.find((r) => r.firstError)?.firstError,
      seconds, opsPerSec: ops / seconds, requestsPerSec: requests / seconds,
      serverCpu, serverCores: serverCpu / seconds, clientCores: reports.reduce((s, r) => s + r.cpuSeconds, 0) / seconds,
      opsPerServerCpuSec: ops / serverCpu, requestsPerServerCpuSec: requests / serverCpu,
      p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99), latency,
      peakRss: Math.max(peakRss, rssBytes(opts.serverPids[0])),
    };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  }
}

/** Worker w's part of a load: a counted create range is split, a timed one gets its own names. */
function shareOf(load: Load, w: number, workers: number): Load {
  if (load.kind !== "create") return load;
  if (load.to === undefined) return { ...load, prefix: `${load.prefix}w${w}-` };
  const size = Math.ceil((load.to - load.from) / workers);
  return { ...load, from: load.from + w * size, to: Math.min(load.to, load.from + (w + 1) * size) };
}

/** Reads a worker's stdout line by line; next(prefix) waits for the next line starting with prefix. */
function lines(p: ReturnType<typeof spawn>): { next(prefix: string): Promise<string> } {
  let err = "";
  p.stderr!.on("data", (d) => (err += d));
  const queue: string[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  createInterface({ input: p.stdout! }).on("line", (l) => {
    queue.push(l);
    waiter?.();
  });
  p.once("close", () => {
    ended = true;
    waiter?.();
  });
  return {
    async next(prefix) {
      for (;;) {
        const i = queue.findIndex((l) => l.startsWith(prefix));
        if (i >= 0) return queue.splice(0, i + 1).pop()!;
        if (ended) throw new Error(`load worker exited (${p.exitCode}) before "${prefix}…":\n${queue.join("\n")}\n${err}`);
        await new Promise<void>((resolve) => (waiter = resolve));
        waiter = undefined;
      }
    },
  };
}

/** Several runs one after the other as one: counts, seconds and CPU add up, latencies merge. */
export function combine(runs: readonly LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => runs.reduce((s, r) => s + f(r), 0);
  const requests = sum((r) => r.requests), ops = sum((r) => r.ops), seconds = sum((r) => r.seconds), serverCpu = sum((r) => r.serverCpu);
  const latency = runs.reduce((h, r) => merge(h, r.latency), {} as Histogram);
  return {
    requests, ops, errors: sum((r) => r.errors), firstError: runs.find((r) => r.firstError)?.firstError,
    seconds, opsPerSec: ops / seconds, requestsPerSec: requests / seconds,
    serverCpu, serverCores: serverCpu / seconds, clientCores: sum((r) => r.clientCores * r.seconds) / seconds,
    opsPerServerCpuSec: ops / serverCpu, requestsPerServerCpuSec: requests / serverCpu,
    p50Ms: percentile(latency, 50), p99Ms: percentile(latency, 99), latency,
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
  };
}
