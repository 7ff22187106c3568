/**
 * A real Prometheus server (Debian's package) for end-to-end tests: installed
 * with apt-get when missing (as root, as .ci/run does), started on a free
 * loopback port with its own data directory, and asked through its own HTTP
 * API. stop() ends the process and removes the directory.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePorts, until } from "./cluster.ts";

/** Whether prometheus and promtool are installed, installing them when missing; a reason when they cannot be. */
export function ensurePrometheus(): true | string {
  const have = () => existsSync("/usr/bin/prometheus") && existsSync("/usr/bin/promtool");
  if (have()) return true;
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", timeout: 300_000, env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "prometheus"], { stdio: "ignore", timeout: 300_000, env });
  } catch (err) {
    return `apt-get install prometheus failed: ${(err as Error).message.split("\n")[0]}`;
  }
  return have() || "prometheus is still not installed after apt-get";
}

/** A running Prometheus. */
export interface Prometheus {
  readonly url: string;
  /** GET an API path (e.g. /api/v1/targets); the `data` of its JSON reply. */
  api(pathAndQuery: string): Promise<any>;
  /** An instant query's result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts prometheus with `config` (YAML) and waits until it is ready. */
export async function startPrometheus(config: string): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kms-prometheus-"));
  const configFile = path.join(dir, "prometheus.yml");
  writeFileSync(configFile, config);
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("/usr/bin/prometheus", [
    `--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn", "--storage.tsdb.retention.time=1h",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const api = async (p: string): Promise<any> => {
    const res = await fetch(url + p, { signal: AbortSignal.timeout(5_000) });
    const body = await res.json() as { status: string; data: unknown; error?: string };
    if (body.status !== "success") throw new Error(`${p}: ${body.error}`);
    return body.data;
  };
  try {
    await until(async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok || "not ready", "prometheus to be ready", 30_000, 200);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- prometheus output ---\n${out}`);
  }
  return {
    url, api, stop,
    output: () => out,
    query: async (expr) => (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
  };
}
