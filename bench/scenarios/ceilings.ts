/**
 * Rows "crypto.*", "store.*" and "stack.*": the ceilings the kms rows are
 * divided by. In-process ones run in the harness itself; the TLS stack's are
 * real server processes driven by the same load generator as kms.
 */
import { newApiKey } from "../../lib/identity/apikey.ts";
import type { Bench } from "../support/bench.ts";
import { commitCeiling, cryptoCeiling } from "../support/ceilings.ts";
import { num, ms } from "../support/report.ts";
import { SINGLE_CONNECTIONS, singleGenerate } from "./generate.ts";

/** The in-process crypto ceiling and the durable-commit ceiling. */
export async function inProcessRows(b: Bench): Promise<void> {
  const seconds = Math.min(3, b.opts.seconds);
  const c = cryptoCeiling(seconds);
  b.add({
    id: "crypto.dek", label: "DEK generation in-process, 1 thread (kms crypto over node:crypto)",
    value: c.generatePerSec, unit: "ops/s",
    ceiling: { label: "raw AES-256-GCM, 32 bytes", value: c.rawAesGcmPerSec, unit: "ops/s" },
    ratio: c.generatePerSec / c.rawAesGcmPerSec, ratioOf: "value",
    notes: "the ceiling of every GENERATE row: one core's worth of the server's own crypto",
  });
  const commits = await commitCeiling(b.fleet.tempDir(), Math.min(2, b.opts.seconds));
  b.add({
    id: "store.commit", label: "durable one-record commit through lib/store, sequential, 1 thread",
    value: commits, unit: "commits/s",
    notes: `${ms(1000 / commits)} per commit: the ceiling of unbatched writes (the write rows' ratio)`,
  });
}

/** The empty handler on the TLS stack, bare and behind hono, with the single-op GENERATE's request. */
export async function stackRows(b: Bench): Promise<void> {
  const labels = {
    raw: "empty handler, node:tls → node:http, client cert",
    hono: "empty hono app via lib/api/serve.ts, client cert",
  };
  for (const kind of ["raw", "hono"] as const) {
    const server = await b.fleet.startEmpty(kind);
    try {
      const r = await b.load({ ...server, apiKey: newApiKey() }, singleGenerate(), SINGLE_CONNECTIONS);
      const raw = b.row("stack.raw");
      b.add({
        id: `stack.${kind}`, label: `${labels[kind]}, ${SINGLE_CONNECTIONS} connections`,
        value: r.requestsPerSec, unit: "req/s", perCpu: r.requestsPerServerCpuSec,
        ...(kind === "hono" && raw?.perCpu
          ? { ceiling: { label: "bare stack", value: raw.perCpu, unit: "req/CPU-s" }, ratio: r.requestsPerServerCpuSec / raw.perCpu, ratioOf: "perCpu" as const }
          : {}),
        notes: `p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}; server ${num(r.serverCores)} cores, client ${num(r.clientCores)} cores`,
        detail: { load: r },
      });
    } finally {
      await server.stop();
    }
  }
}
