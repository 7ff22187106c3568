/**
 * Starts real kms server processes for end-to-end tests and cleans them up.
 * Set KMS_BINARY to a compiled binary to test it instead of the sources.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KmsClient } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { ADMIN_KEY_FILE, readClusterId } from "../../lib/server/admin-key.ts";
import { adminApiKey } from "../../lib/node/admin-key.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { waitForBanner } from "../../bench/support/banner.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BUN = path.join(ROOT, "node_modules/.bin/bun");

/** The command line that runs kms: the compiled binary (KMS_BINARY) or the sources under Bun. */
export function kmsCommand(binary = process.env.KMS_BINARY): string[] {
  return binary ? [path.resolve(ROOT, binary)] : [BUN, path.join(ROOT, "main.ts")];
}

/** A fresh temporary directory, removed by cleanup(). */
export function tempDir(prefix = "kms-test-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const cleanups: Array<() => void | Promise<void>> = [];

/** Runs every registered cleanup (stops servers, removes directories). Call it from after(). */
export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

/** Result of a finished CLI run. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kms ARGS…` to completion with extra environment, with a deadline. */
export function runKms(
  args: string[],
  env: Record<string, string> = {},
  opts: { binary?: string; input?: string | Uint8Array; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  const [cmd, ...pre] = kmsCommand(opts.binary);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { env: { ...process.env, ...env }, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A running server process. */
export interface KmsServer {
  readonly dir: string;
  readonly hsmKey: string;
  readonly port: number;
  readonly address: string;
  readonly apiKey: string;
  /** PEM of the cluster CA's certificate (DIR/ca.crt). */
  readonly ca: string;
  readonly caFile: string;
  readonly process: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Environment for CLI runs against this server. */
  env(): Record<string, string>;
  /** A client authenticated as the admin. */
  client(apiKey?: string): KmsClient;
  /** Sends a signal and waits for the process to exit; resolves to its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Options for startServer. */
export interface StartOptions {
  dir?: string;
  /** Listen address (default 127.0.0.1:0: a port the OS picks). Use a fixed port to restart a node where it was. */
  addr?: string;
  hsmKey?: string;
  /** Give the server its HSM key in this file (MINIO_KMS_HSM_KEY_FILE) instead of MINIO_KMS_HSM_KEY; hsmKey must be its content. */
  hsmKeyFile?: string;
  binary?: string;
  extraArgs?: string[];
  timeoutMs?: number;
  /** Working directory of the server process (default: this process's). */
  cwd?: string;
  /** Extra environment of the server process. */
  env?: Record<string, string>;
  /** Leave DIR/admin.key (written on the first start) in place; by default it is deleted, as an operator should. */
  keepAdminKeyFile?: boolean;
}

/** Starts `kms server --addr 127.0.0.1:0 DIR` (or opts.addr) and waits until it prints its address. */
export async function startServer(opts: StartOptions = {}): Promise<KmsServer> {
  const dir = opts.dir ?? path.join(tempDir(), "data");
  const hsmKey = opts.hsmKey ?? SoftHsm.generate();
  const [cmd, ...pre] = kmsCommand(opts.binary);
  const child = spawn(cmd, [...pre, "server", "--addr", opts.addr ?? "127.0.0.1:0", ...(opts.extraArgs ?? []), dir], {
    env: { ...process.env, ...opts.env, ...(opts.hsmKeyFile ? { MINIO_KMS_HSM_KEY: "", MINIO_KMS_HSM_KEY_FILE: opts.hsmKeyFile } : { MINIO_KMS_HSM_KEY: hsmKey }) },
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  const clients: KmsClient[] = [];
  cleanups.push(async () => {
    for (const c of clients) c.close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  const port = await waitForBanner(child, () => out, opts.timeoutMs ?? 30_000);
  const caFile = path.join(dir, CA_FILE);
  const ca = readFileSync(caFile, "utf8");
  // The server never prints the key when its output is not a terminal; derive it as 'kms identity --hsm DIR' does.
  const apiKey = adminApiKey(SoftHsm.parse(hsmKey), readClusterId(dir));
  if (!opts.keepAdminKeyFile) rmSync(path.join(dir, ADMIN_KEY_FILE), { force: true });
  const address = `127.0.0.1:${port}`;
  return {
    dir, hsmKey, port, address, apiKey, ca, caFile, process: child,
    output: () => out,
    env: () => ({ MINIO_KMS_SERVER: address, MINIO_KMS_API_KEY: apiKey, KMS_CA: caFile }),
    client: (key = apiKey) => {
      const c = new KmsClient({ servers: [address], apiKey: key, ca });
      clients.push(c);
      return c;
    },
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? 128;
      child.kill(signal);
      return exited;
    },
  };
}
