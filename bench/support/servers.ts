/**
 * Real server processes for the benchmarks: kms servers (the sources under
 * Bun, or a compiled binary) and the empty-handler servers that give the TLS
 * stack's ceiling. A Fleet owns what it starts and removes it all on cleanup.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KmsClient } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { adminApiKeyOf } from "../../lib/server/admin-key.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { waitForBanner } from "./banner.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const BUN = path.join(ROOT, "node_modules/.bin/bun");

/** A started process that printed the banner "Listening on https://127.0.0.1:PORT". */
export interface Served {
  readonly pid: number;
  readonly port: number;
  readonly address: string;
  /** PEM of the CA of the certificate the server presents (DIR/ca.crt, read at each use). */
  readonly ca: string;
  /** Milliseconds from spawn to the banner. */
  readonly bannerMs: number;
  output(): string;
  /** Sends a signal and waits for the process to exit; resolves to its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** A kms server process. */
export interface KmsProcess extends Served {
  readonly dir: string;
  readonly hsmKey: string;
  readonly apiKey: string;
  /** A client authenticated as the admin (closed on cleanup). */
  client(): KmsClient;
}

/** How to run kms: the compiled binary, or the sources (optionally under Bun's CPU profiler). */
export interface KmsRuntime {
  readonly binary?: string;
  /** Directory for Bun's --cpu-prof output (sources only): each server writes a profile when it stops. */
  readonly profileDir?: string;
}

/** Processes and directories started by one benchmark run. */
export class Fleet {
  readonly #cleanups: Array<() => void | Promise<void>> = [];
  readonly runtime: KmsRuntime;

  constructor(runtime: KmsRuntime = {}) {
    this.runtime = runtime;
  }

  /** A fresh temporary directory, removed on cleanup. */
  tempDir(prefix = "kms-bench-"): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.#cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** The command line that runs `kms ARGS…`. */
  kmsCommand(args: string[]): string[] {
    const { binary, profileDir } = this.runtime;
    if (binary) return [path.resolve(ROOT, binary), ...args];
    const prof = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`] : [];
    return [BUN, ...prof, path.join(ROOT, "main.ts"), ...args];
  }

  /** Starts `kms server --addr 127.0.0.1:0 [ARGS] DIR` (a new directory unless given) and waits for its banner. */
  async startKms(opts: { dir?: string; hsmKey?: string; args?: string[] } = {}): Promise<KmsProcess> {
    const dir = opts.dir ?? path.join(this.tempDir(), "data");
    const hsmKey = opts.hsmKey ?? SoftHsm.generate();
    const served = await this.#start(this.kmsCommand(["server", "--addr", "127.0.0.1:0", ...(opts.args ?? []), dir]), { MINIO_KMS_HSM_KEY: hsmKey }, path.join(dir, CA_FILE));
    return this.#kms(served, dir, hsmKey, adminApiKeyOf(dir, SoftHsm.parse(hsmKey)));
  }

  /** `node` as a member of `first`'s cluster (after `kms add`): it took that cluster's credentials, so its CA and admin API key. */
  joined(node: KmsProcess, first: KmsProcess): KmsProcess {
    return this.#kms({ ...node, ca: first.ca }, node.dir, node.hsmKey, first.apiKey);
  }

  #kms(served: Served, dir: string, hsmKey: string, apiKey: string): KmsProcess {
    return {
      ...served, dir, hsmKey, apiKey,
      client: () => {
        const c = new KmsClient({ servers: [served.address], apiKey, ca: served.ca });
        this.#cleanups.push(() => c.close());
        return c;
      },
    };
  }

  /** Starts an empty-handler server (bench/support/empty-server.ts) of the given kind. */
  startEmpty(kind: "raw" | "hono"): Promise<Served> {
    const dir = this.tempDir();
    return this.#start([BUN, path.join(ROOT, "bench/support/empty-server.ts"), kind, dir], {}, path.join(dir, "server.crt"));
  }

  /** Stops every process (SIGKILL if still running) and removes every directory. */
  async cleanup(): Promise<void> {
    while (this.#cleanups.length) await this.#cleanups.pop()!();
  }

  async #start(cmd: string[], env: Record<string, string>, caFile: string): Promise<Served> {
    const started = performance.now();
    const child: ChildProcess = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
    this.#cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    });
    // Long enough for a data directory of a million keys (bench/scenarios/scale.ts).
    const port = await waitForBanner(child, () => out, 600_000, cmd.join(" "));
    const bannerMs = performance.now() - started;
    return {
      pid: child.pid!, port, address: `127.0.0.1:${port}`, bannerMs,
      // Read at each use: a node that joins a cluster takes that cluster's CA.
      get ca() {
        return readFileSync(caFile, "utf8");
      },
      output: () => out,
      stop: async (signal = "SIGTERM") => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? 128;
        child.kill(signal);
        return exited;
      },
    };
  }
}
