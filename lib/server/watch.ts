/**
 * How a server node is watched: its metrics (read from the node at scrape
 * time), its audit records (the hash-chained trail in DIR/audit, names sealed
 * with an HSM-derived key, and optionally a plain copy to a file or stdout),
 * and its log and audit streams. Each part can be switched off.
 */
import path from "node:path";
import type { ConnectionGuard } from "../net/connections.ts";
import type { NodeOps } from "../api/ops.ts";
import { AuditHub } from "../audit/hub.ts";
import { NameSealer, trailMac } from "../audit/seal.ts";
import { AuditTrail } from "../audit/trail.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { Feeds } from "../log/feed.ts";
import { log } from "../log/logger.ts";
import { type ClusterFigures, Metrics, type StateCounts } from "../metrics/metrics.ts";
import type { State } from "../state/state.ts";
import type { KmsNode } from "../node/node.ts";

/** The watching side of a started node. */
export interface Watching {
  readonly ops: NodeOps;
  /** Flushes and closes the audit trail, stops the samplers; logs the trail's head unless `quiet` (a start that failed). */
  close(quiet?: boolean): Promise<void>;
  /** Reopens the `--audit` file (after a log rotation); throws AuditOutError when it cannot. */
  reopen(): void;
}

/** What the switches say. */
export interface WatchOptions {
  readonly dir: string;
  readonly auditTrail?: boolean;
  readonly auditOut?: string;
  readonly metrics?: boolean;
  readonly restart?: () => void;
}

/**
 * Sets up metrics, audit and streams for `node`; `guard` gives the listener's
 * connections once it listens, `others` those of the serving threads (threads.ts).
 */
export async function watchNode(
  node: KmsNode, hsm: SoftHsm, opts: WatchOptions, guard: () => ConnectionGuard | undefined, others: () => number = () => 0,
): Promise<Watching> {
  const open = () => (guard()?.size ?? 0) + others();
  const feeds = new Feeds();
  const sealer = new NameSealer(hsm);
  const trail = opts.auditTrail === false ? undefined : await AuditTrail.open({
    dir: path.join(opts.dir, "audit"),
    node: () => node.info.host,
    seal: (name) => sealer.seal(name),
    mac: trailMac(hsm),
    onError: (err) => log.error(`audit trail: cannot write (records wait in memory and are tried again): ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`),
  });
  let audit: AuditHub | undefined;
  try {
    audit = trail || opts.auditOut ? new AuditHub({ trail, out: opts.auditOut }) : undefined;
  } catch (err) {
    await trail?.close();
    throw err;
  }
  const metrics = opts.metrics === false ? undefined : new Metrics(node.info, {
    cluster: () => clusterFigures(node),
    state: () => stateCounts(node.state),
    connections: open,
    cuts: () => ({ ...guard()?.cut, canceled: guard()?.canceled ?? 0 }),
    audit: () => ({ records: audit?.count ?? 0, trail: trail?.stats }),
    logs: () => ({ counts: log.counts, streams: feeds.size, dropped: feeds.dropped }),
  });
  if (metrics) node.onWrite = (seconds, ok) => metrics.write(seconds, ok);
  return {
    ops: { metrics, audit, feeds, connections: open, restart: opts.restart },
    reopen: () => audit?.reopen(),
    async close(quiet = false) {
      feeds.closeAll();
      metrics?.close();
      await audit?.close();
      if (trail && !quiet) log.info("audit trail closed", { seq: trail.head.seq, head: trail.head.hash });
    },
  };
}

/** The cluster as `node` sees it, or undefined while it starts. */
function clusterFigures(node: KmsNode): ClusterFigures | undefined {
  if (!node.cluster) return undefined;
  const st = node.status();
  const leader = st.role === "leader";
  const down = leader ? st.peers.filter((p) => !p.active && st.members.some((m) => m.id === p.id)).length : undefined;
  return {
    role: st.role === "precandidate" ? "candidate" : st.role,
    nodeId: st.id,
    leaderId: st.leader,
    commit: st.commit,
    applied: st.applied,
    members: st.members.length,
    ...(leader && { up: st.members.length - down!, down }),
    heartbeatAgeSeconds: st.sinceLeader < 0 ? -1 : (st.sinceLeader * node.info.tickMs) / 1000,
    writesInFlight: node.writesInFlight,
  };
}

/** How many enclaves, keys, identities and policies the state holds. */
function stateCounts(state: State): StateCounts {
  let keys = 0, identities = 0, policies = 0;
  for (const e of state.enclaves.values()) {
    keys += e.keys.size;
    identities += e.identities.size;
    policies += e.policies.size;
  }
  return { enclaves: state.enclaves.size, keys, identities, policies };
}
