/**
 * One benchmark run: its options, the processes it started, the rows it has
 * measured so far (later rows take their ceilings from earlier ones), and the
 * committed baseline its figures are printed beside.
 */
import { type LoadOptions, type LoadResult, runLoad } from "./load.ts";
import type { Load } from "./loads.ts";
import { jitCpuSeconds, totalCpu } from "./proc.ts";
import { printRow, type Row } from "./report.ts";
import type { Fleet, Served } from "./servers.ts";

// Turns per interleaved measurement.
const ROUNDS = 3;
/** A warm-up ends once the JIT took at most this share of the server's CPU in its last run… */
const WARM_JIT_SHARE = 0.03;
/** …or after this long. */
const WARM_MAX_S = 30;

/** Options of a run (see run.ts --help). */
export interface BenchOptions {
  readonly quick: boolean;
  /** Measured seconds per load. */
  readonly seconds: number;
  /** Keys of the key-scale section. */
  readonly keys: number;
  /** Load-generating worker processes. */
  readonly workers: number;
}

/** A server a load is sent to, with the API key its client certificate comes from. */
export type Target = Served & { readonly apiKey: string };

/** How a load runs: whose CPU it is charged with, operations per request, its length, its warm-up. */
export interface LoadOpts {
  readonly serverPids?: readonly number[];
  readonly opsPerRequest?: number;
  readonly seconds?: number;
  readonly warmup?: boolean;
}

/** A run in progress. */
export class Bench {
  readonly rows: Row[] = [];
  readonly fleet: Fleet;
  readonly opts: BenchOptions;
  readonly #baseline: ReadonlyMap<string, Row>;

  constructor(fleet: Fleet, opts: BenchOptions, baseline: ReadonlyMap<string, Row> = new Map()) {
    this.fleet = fleet;
    this.opts = opts;
    this.#baseline = baseline;
  }

  /** Records and prints a row. */
  add(row: Row): Row {
    this.rows.push(row);
    printRow(row, this.#baseline.get(row.id));
    return row;
  }

  /** A row measured earlier in this run (to use as a ceiling), if it ran. */
  row(id: string): Row | undefined {
    return this.rows.find((r) => r.id === id);
  }

  /**
   * Sends a load to a server for opts.seconds (or `seconds`) after a short
   * warm-up of the same shape (unless `warmup: false`), so the JIT has
   * compiled both sides first.
   */
  async load(server: Target, load: Load, connections: number, opts: LoadOpts = {}): Promise<LoadResult> {
    if (opts.warmup !== false) await this.warmup(server, load, connections, opts);
    const result = await runLoad({ ...this.#options(server, load, connections, opts), seconds: opts.seconds ?? this.opts.seconds });
    if (result.errors > 0) console.log(`    (${result.errors} of ${result.requests} requests failed; first: ${result.firstError})`);
    return result;
  }

  /**
   * Runs of a load, not measured, until the server's JIT has compiled what
   * the load runs: its compiler threads took at most WARM_JIT_SHARE of the
   * server's CPU in the last run, or WARM_MAX_S passed (a server under load
   * keeps compiling for 10–15 s on this machine, and kms has more code to
   * compile than an empty handler: a second of warm-up measured the JIT).
   * None in smoke runs (shorter than half a second a load).
   */
  async warmup(server: Target, load: Load, connections: number, opts: LoadOpts = {}): Promise<void> {
    const seconds = opts.seconds ?? this.opts.seconds;
    if (this.opts.seconds < 0.5) return;
    // A warm-up of creates makes keys of its own.
    const warm = load.kind === "create" ? { ...load, prefix: `${load.prefix}warm-` } : load;
    const pids = opts.serverPids ?? [server.pid];
    const jit = () => pids.reduce((sum, pid) => sum + jitCpuSeconds(pid), 0);
    const deadline = performance.now() + WARM_MAX_S * 1000;
    for (;;) {
      const jit0 = jit(), cpu0 = totalCpu(pids);
      await runLoad({ ...this.#options(server, warm, connections, opts), seconds: Math.min(1, Math.max(0.25, seconds / 4)) });
      const share = (jit() - jit0) / (totalCpu(pids) - cpu0);
      // NaN (no /proc) ends it too: one run, as before.
      if (!(share > WARM_JIT_SHARE) || performance.now() > deadline) return;
    }
  }

  #options(server: Target, load: Load, connections: number, opts: LoadOpts): Omit<LoadOptions, "seconds"> {
    return {
      address: server.address, ca: server.ca, apiKey: server.apiKey, serverPids: opts.serverPids ?? [server.pid],
      load, connections, workers: this.opts.workers, opsPerRequest: opts.opsPerRequest,
    };
  }

  /**
   * Measures several things in turns (A B C A B C …, opts.seconds in all for
   * each) so that all of them see the same changes of a shared machine's
   * load; a ratio between two of them then compares like with like.
   */
  async interleave<T>(parts: ReadonlyArray<(seconds: number) => Promise<T>>): Promise<T[][]> {
    const rounds = this.opts.seconds >= 1.5 ? ROUNDS : 1;
    const out = parts.map(() => [] as T[]);
    for (let r = 0; r < rounds; r++) {
      for (const [i, part] of parts.entries()) out[i].push(await part(this.opts.seconds / rounds));
    }
    return out;
  }
}
