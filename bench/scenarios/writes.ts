/**
 * Rows "writes.*": KEY:CREATE (a replicated, durable write) by 1, 8 and 64
 * concurrent writers, each with its own keep-alive connection and one request
 * in flight, against one node and against three (all on this machine; writes
 * go to the leader). Server CPU is summed over every node of the cluster.
 */
import { SoftHsm } from "../../lib/hsm/soft.ts";
import type { Bench } from "../support/bench.ts";
import { commitCeiling } from "../support/ceilings.ts";
import { totalCpu } from "../support/proc.ts";
import type { LoadResult } from "../support/load.ts";
import { num, ms } from "../support/report.ts";
import type { Fleet, KmsProcess } from "../support/servers.ts";
import { ENCLAVE } from "./generate.ts";

export const WRITERS = [1, 8, 64] as const;
export const CLUSTER_SIZES = [1, 3] as const;

/** Starts `size` nodes sharing one HSM key and joins them into node 0's cluster. */
export async function startCluster(fleet: Fleet, size: number): Promise<KmsProcess[]> {
  const hsmKey = SoftHsm.generate();
  const nodes: KmsProcess[] = [];
  for (let i = 0; i < size; i++) nodes.push(await fleet.startKms({ hsmKey }));
  const leader = nodes[0].client();
  for (const n of nodes.slice(1)) await leader.addNode(n.address);
  // The admin API key is per cluster: once joined, every node answers to node 0's.
  return nodes.map((n) => (n === nodes[0] ? n : fleet.joined(n, nodes[0])));
}

/** Cores the processes use while nobody sends them anything (heartbeats, timers), over `seconds`. */
async function idleCpu(pids: readonly number[], seconds: number): Promise<number> {
  const before = totalCpu(pids);
  // A measurement window, not a synchronisation: nothing is waited for.
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return (totalCpu(pids) - before) / seconds;
}

/** The durable-commit ceiling, then creates at each writer count, on one node and on three. */
export async function writeRows(b: Bench): Promise<void> {
  const commits = await commitCeiling(b.fleet.tempDir(), Math.min(2, b.opts.seconds));
  const commit = b.add({
    id: "store.commit", label: "durable one-record commit through lib/store, sequential, 1 thread",
    value: commits, unit: "commits/s",
    notes: `${ms(1000 / commits)} per commit: the ceiling of unbatched writes (the write rows' ratio)`,
  });
  for (const size of CLUSTER_SIZES) {
    const nodes = await startCluster(b.fleet, size);
    try {
      await nodes[0].client().createEnclave(ENCLAVE);
      const idleCores = await idleCpu(nodes.map((n) => n.pid), Math.min(2, b.opts.seconds));
      let oneWriter: LoadResult | undefined;
      for (const writers of WRITERS) {
        const r = await b.load(nodes[0], { kind: "create", enclave: ENCLAVE, prefix: `w${writers}-`, from: 0 }, writers, {
          serverPids: nodes.map((n) => n.pid),
        });
        if (writers === 1) oneWriter = r;
        const goal = writers === 64 ? `≥ ${size === 1 ? "5,000" : "2,000"}/s` : writers === 1 ? `p50 ≤ ${size === 1 ? 2 : 5} ms` : "never below fewer writers";
        b.add({
          id: `writes.${size}node.${writers}`, label: `key creates, ${writers} writer${writers > 1 ? "s" : ""}, ${size} node${size > 1 ? "s" : ""}`,
          value: r.opsPerSec, unit: "creates/s", perCpu: r.opsPerServerCpuSec,
          ceiling: { label: "unbatched commits", value: commit.value, unit: "commits/s" }, ratio: r.opsPerSec / commit.value, ratioOf: "value",
          goal: `${goal}; ≤ 100 µs CPU/write`,
          notes: `p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}; ${num(1e6 / r.opsPerServerCpuSec)} µs server CPU per write ` +
            `(${num(r.serverCores)} cores over ${size} node${size > 1 ? "s" : ""}, of which ${num(idleCores)} when idle)`,
          detail: { writers, nodes: size, idleCores, load: r },
        });
      }
      if (size > 1) {
        // A write sent to a follower is forwarded to the leader: one writer, the extra hop's cost.
        const r = await b.load(nodes[size - 1], { kind: "create", enclave: ENCLAVE, prefix: "fwd-", from: 0 }, 1, { serverPids: nodes.map((n) => n.pid) });
        const direct = oneWriter!;
        b.add({
          id: `writes.${size}node.1.via-follower`, label: `key creates, 1 writer, ${size} nodes, sent to a follower`,
          value: r.p50Ms, unit: "ms p50",
          ceiling: { label: "sent to the leader", value: direct.p50Ms, unit: "ms p50" }, ratio: r.p50Ms / direct.p50Ms, ratioOf: "value",
          notes: `${num(r.opsPerSec)} creates/s; p99 ${ms(r.p99Ms)}`,
          detail: { writers: 1, nodes: size, load: r },
        });
      }
    } finally {
      for (const n of nodes) await n.stop();
    }
  }
}
