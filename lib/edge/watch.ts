/**
 * How an edge server is watched: metrics (KES's names and kms's, with the
 * key store's health), audit records (the config's `log.audit` prints them
 * in KES's format; `--audit-trail DIR` keeps a hash-chained trail, names in
 * the clear since the edge holds no HSM key; `--audit FILE|-` a plain copy),
 * and the KES log streams.
 */
import type { ConnectionGuard } from "../net/connections.ts";
import { kesAuditLine } from "../api/kes/log.ts";
import type { NodeOps } from "../api/ops.ts";
import { AuditHub } from "../audit/hub.ts";
import { AuditTrail } from "../audit/trail.ts";
import { Feeds } from "../log/feed.ts";
import { log } from "../log/logger.ts";
import { Metrics } from "../metrics/metrics.ts";
import { VERSION } from "../version.ts";

/** The watching side of a started edge server. */
export interface Watching {
  readonly ops: NodeOps;
  close(): Promise<void>;
  /** Reopens the `--audit` file (after a log rotation); throws AuditOutError when it cannot. */
  reopen(): void;
}

/** Sets up an edge server's metrics, audit and streams. */
export async function watchEdge(opts: {
  readonly node: () => string;
  readonly startedAt: number;
  readonly store: () => { latencyMs: number; unreachable: boolean };
  readonly guard: () => ConnectionGuard | undefined;
  /** Takes each record as a KES audit line (the config's log.audit). */
  readonly kesOut: (line: string) => void;
  readonly auditTrail?: string;
  readonly auditOut?: string;
  readonly metrics?: boolean;
}): Promise<Watching> {
  const feeds = new Feeds();
  const trail = opts.auditTrail ? await AuditTrail.open({
    dir: opts.auditTrail,
    node: opts.node,
    onError: (err) => log.error(`audit trail: cannot write (records wait in memory and are tried again): ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`),
  }) : undefined;
  let copy: AuditHub | undefined;
  try {
    copy = opts.auditOut ? new AuditHub({ out: opts.auditOut }) : undefined;
  } catch (err) {
    await trail?.close();
    throw err;
  }
  const audit = new AuditHub({
    trail,
    out: opts.kesOut,
    format: kesAuditLine,
  });
  if (copy) audit.subscribe((e) => copy!.record(e));
  const metrics = opts.metrics === false ? undefined : new Metrics({ version: VERSION, startedAt: opts.startedAt }, {
    connections: () => opts.guard()?.size ?? 0,
    cuts: () => ({ ...opts.guard()?.cut, canceled: opts.guard()?.canceled ?? 0 }),
    audit: () => ({ records: audit.count, trail: trail?.stats }),
    logs: () => ({ counts: log.counts, streams: feeds.size, dropped: feeds.dropped }),
    keystore: opts.store,
  });
  return {
    ops: { metrics, audit, feeds, connections: () => opts.guard()?.size ?? 0 },
    reopen: () => copy?.reopen(),
    async close() {
      feeds.closeAll();
      metrics?.close();
      await audit.close();
      await copy?.close();
    },
  };
}
