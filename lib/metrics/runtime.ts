/**
 * Process figures for Prometheus: memory, CPU, file descriptors, open
 * connections, event-loop lag, start time and build. prom-client's default
 * collectors report nonsense for the event loop under Bun (NaN and huge
 * minimums, measured), so the lag is measured here: a timer that should fire
 * every 500 ms notes how late it is, and the gauge reports the worst lateness
 * since the last scrape.
 */
import { readdirSync } from "node:fs";
import { Counter, Gauge, type Registry } from "prom-client";

/** The running sampler. */
export interface RuntimeSampler {
  stop(): void;
}

const EVERY_MS = 500;

/** The runtime's name and version (bun 1.4.5, deno 2.9.6). */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

/** Open file descriptors of this process (Linux), or undefined. */
function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

/** Registers the process metrics on `registry`; `connections` counts open client connections. */
export function runtimeMetrics(registry: Registry, info: { version: string; startedAt: number }, connections: () => number): RuntimeSampler {
  const r = [registry];
  let worst = 0;
  let expected = performance.now() + EVERY_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + EVERY_MS;
  }, EVERY_MS);
  timer.unref?.();
  new Gauge({ name: "kms_build_info", help: "Always 1: the version and runtime of this server.", labelNames: ["version", "runtime"], registers: r, collect() {
    this.set({ version: info.version, runtime: runtimeName() }, 1);
  } });
  new Gauge({ name: "kms_process_start_time_seconds", help: "Start time of the server, seconds since the epoch.", registers: r, collect() {
    this.set(info.startedAt / 1000);
  } });
  new Gauge({ name: "kms_process_resident_memory_bytes", help: "Resident memory.", registers: r, collect() {
    this.set(process.memoryUsage().rss);
  } });
  new Gauge({ name: "kms_process_heap_bytes", help: "JavaScript heap in use (used) and reserved (total).", labelNames: ["kind"], registers: r, collect() {
    const m = process.memoryUsage();
    this.set({ kind: "used" }, m.heapUsed);
    this.set({ kind: "total" }, m.heapTotal);
  } });
  new Counter({ name: "kms_process_cpu_seconds_total", help: "CPU time of the process (user and system).", labelNames: ["mode"], registers: r, collect() {
    const c = process.cpuUsage();
    this.reset();
    this.inc({ mode: "user" }, c.user / 1e6);
    this.inc({ mode: "system" }, c.system / 1e6);
  } });
  new Gauge({ name: "kms_process_open_fds", help: "Open file descriptors.", registers: r, collect() {
    const n = openFds();
    if (n !== undefined) this.set(n);
  } });
  new Gauge({ name: "kms_http_open_connections", help: "Open client connections.", registers: r, collect() {
    this.set(connections());
  } });
  new Gauge({ name: "kms_eventloop_lag_seconds", help: "Worst event-loop delay seen since the last scrape (a timer's lateness).", registers: r, collect() {
    this.set(Math.max(0, worst) / 1000);
    worst = 0;
  } });
  return { stop: () => clearInterval(timer) };
}
