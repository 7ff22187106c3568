/**
 * One benchmark run: its options, the processes it started, the rows it has
 * measured so far (later rows take their ceilings from earlier ones), and the
 * committed baseline its figures are printed beside.
 */
import { runLoad, type LoadResult } from "./load.ts";
import type { Load } from "./loads.ts";
import { printRow, type Row } from "./report.ts";
import type { Fleet, Served } from "./servers.ts";

/** Options of a run (see run.ts --help). */
export interface BenchOptions {
  readonly quick: boolean;
  /** Measured seconds per load. */
  readonly seconds: number;
  /** Keys of the key-scale section… */
  readonly keys: number;
  /** …unless seeding them takes longer than this. */
  readonly seedSeconds: number;
  /** Load-generating worker processes. */
  readonly workers: number;
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
   * warm-up of the same shape, so the JIT has compiled both sides first.
   */
  async load(
    server: Served & { readonly apiKey: string },
    load: Load,
    connections: number,
    opts: { serverPids?: readonly number[]; opsPerRequest?: number; seconds?: number; warmup?: boolean } = {},
  ): Promise<LoadResult> {
    const base = {
      address: server.address, ca: server.ca, apiKey: server.apiKey, serverPids: opts.serverPids ?? [server.pid],
      load, connections, workers: this.opts.workers, opsPerRequest: opts.opsPerRequest,
    };
    const seconds = opts.seconds ?? this.opts.seconds;
    // A warm-up of creates makes keys of its own.
    const warm = load.kind === "create" ? { ...load, prefix: `${load.prefix}warm-` } : load;
    // Runs shorter than half a second are smoke runs, not measurements: no warm-up.
    if (opts.warmup !== false && seconds >= 0.5) await runLoad({ ...base, load: warm, seconds: Math.min(1, seconds / 4) });
    const result = await runLoad({ ...base, seconds });
    if (result.errors > 0) console.log(`    (${result.errors} of ${result.requests} requests failed; first: ${result.firstError})`);
    return result;
  }
}
