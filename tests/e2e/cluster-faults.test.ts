/**
 * Faults with a history checker: several concurrent clients create, delete
 * and read keys on every node of a 3- and a 5-node cluster while a seeded
 * nemesis kill -9s and restarts nodes (the leader included) and cuts nodes
 * off from their peers through their proxies (refused or blackholed). The
 * recorded history, with final reads of every key on every node after
 * healing, must be linearizable (tests/helpers/linearizability.ts: zero
 * acknowledged writes lost, no stale read, no failed write that took effect),
 * and every node must end with the same state hash.
 *
 * Run alone with: bun test --timeout 300000 tests/e2e/cluster-faults.test.ts
 *   SEED=N [NODES=3|5]  replay one seed's schedule (on both sizes without NODES)
 *   RUNS=N              seeds per size (default 5: 10 runs in all)
 *   RUN_MS=N            length of the faulty phase of a run (default 12000)
 *   CLUSTER_LOG=1       print the cluster's timeline as it happens
 *   AMBIGUOUS_503=RE    diagnosis only: read write failures whose message
 *                       matches RE as unknown (to look past a known bug)
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { Prng } from "../../lib/cluster/prng.ts";
import { startCluster } from "../helpers/cluster.ts";
import { cleanup } from "../helpers/kms.ts";
import { checkHistory, describeResult, formatEvent, type HistoryEvent, HistoryRecorder, type OpKind, summarize } from "../helpers/linearizability.ts";

const SIZES = process.env.NODES ? [Number(process.env.NODES)] : [3, 5];
const RUNS = Number(process.env.RUNS ?? 5);
const RUN_MS = Number(process.env.RUN_MS ?? 12_000);
const ENCLAVE = "lin";
const KEYS = 12;
const CLIENT_TIMEOUT_MS = 4_000;
/** Per client, whatever happens: the loops are bounded in count as well as time. */
const MAX_OPS_PER_CLIENT = 3_000;
const MAX_FAULTS = 40;
const RECOVERY_MS = 30_000;
const AMBIGUOUS = process.env.AMBIGUOUS_503 ? new RegExp(process.env.AMBIGUOUS_503) : undefined;

/** The seeds of one size: SEED, or RUNS seeds of their own per size. */
function seedsFor(size: number): number[] {
  if (process.env.SEED) return [Number(process.env.SEED)];
  return Array.from({ length: RUNS }, (_, k) => size * 1000 + k + 1);
}

/** Waits ms of schedule time (pacing the nemesis; never used to wait for a condition). */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One run; throws with the history's verdict and the cluster's report on failure. */
async function run(size: number, seed: number): Promise<void> {
  const replay = `SEED=${seed} NODES=${size} bun test --timeout 300000 tests/e2e/cluster-faults.test.ts`;
  console.log(`cluster-faults: ${size} nodes, seed ${seed} (replay: ${replay})`);
  const rng = new Prng(seed);
  const cluster = await startCluster({ size, log: process.env.CLUSTER_LOG ? console.log : undefined });
  let ok = false;
  try {
    await cluster.client(0).createEnclave(ENCLAVE);
    await cluster.waitConverged();
    // The proxies really carry the peer traffic, attributed to the nodes that opened it.
    const origins = new Set(cluster.nodes.flatMap((n) => n.proxy.connections().map((c) => c.origin)));
    assert.ok([...origins].some((o) => o?.startsWith("node-")), `peer connections go through the proxies: ${[...origins].join(",")}`);

    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    const rec = new HistoryRecorder();
    const clientCount = size + 3;
    let stop = false;

    // Each client has its own generator, so its choices do not depend on timing.
    const client = async (c: number) => {
      const crng = new Prng(seed * 1_000 + c + 1);
      const conns: KmsClient[] = cluster.nodes.map((n) => cluster.client(n.index, { timeoutMs: CLIENT_TIMEOUT_MS }));
      for (let i = 0; i < MAX_OPS_PER_CLIENT && !stop; i++) {
        const node = crng.int(size);
        const key = crng.pick(keys);
        const op = crng.pick<OpKind>(["create", "create", "delete", "delete", "read", "read", "read"]);
        const other = (node + 1 + crng.int(size - 1)) % size;
        const readBack = crng.chance(0.5);
        const conn = conns[node];
        const outcome = await rec.run(c, node, op, key, () =>
          op === "create" ? conn.createKey(ENCLAVE, key) : op === "delete" ? conn.deleteKey(ENCLAVE, key, 0, true) : conn.keyStatus(ENCLAVE, key));
        // Right after an acknowledged write, read it back on another node: the window in which
        // some nodes have applied the write and others not is where stale reads would hide.
        if (op !== "read" && outcome.type === "ok" && readBack) {
          await rec.run(c, other, "read", key, () => conns[other].keyStatus(ENCLAVE, key));
        }
        // A node known to be down only yields refused connections: do not spin on it.
        if (!cluster.alive(node)) await pause(20);
      }
    };

    const recoveries: number[] = [];
    const nemesis = async () => {
      const t0 = performance.now();
      for (let f = 0; f < MAX_FAULTS && performance.now() - t0 < RUN_MS; f++) {
        // Every draw happens whatever the cluster does, so a seed always yields the same schedule.
        const healthy = 200 + rng.int(1_200);
        const kind = rng.pick(size >= 5 ? ["kill", "kill", "cut", "blackhole", "kill2", "kill+cut"] as const : ["kill", "kill", "cut", "blackhole"] as const);
        const onLeader = f === 0 || rng.chance(0.5);
        const a = rng.int(size);
        const b = (a + 1 + rng.int(size - 1)) % size;
        const hold = 300 + rng.int(2_500);
        const waitAfter = rng.chance(0.7);
        await pause(healthy);
        const leader = onLeader ? await cluster.leader().catch(() => undefined) : undefined;
        const first = leader ?? a;
        const second = b === first ? (first + 1) % size : b;
        const killed: number[] = [];
        const cut: number[] = [];
        if (kind === "kill" || kind === "kill2" || kind === "kill+cut") {
          await cluster.kill9(first);
          killed.push(first);
        }
        if (kind === "kill2") {
          await cluster.kill9(second);
          killed.push(second);
        }
        if (kind === "cut" || kind === "blackhole") {
          cluster.cut(first, kind === "cut" ? "reset" : "blackhole");
          cut.push(first);
        }
        if (kind === "kill+cut") {
          cluster.cut(second, "reset");
          cut.push(second);
        }
        await pause(hold);
        for (const i of cut) cluster.heal(i);
        for (const i of killed) await cluster.restart(i);
        if (waitAfter) {
          const t = performance.now();
          await cluster.waitRecovered(undefined, RECOVERY_MS);
          recoveries.push(performance.now() - t);
        }
      }
    };

    const clients = Array.from({ length: clientCount }, (_, c) => client(c));
    try {
      await nemesis();
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    // Heal everything, converge, then read every key on every node: these reads are part of the history.
    await cluster.healAll();
    await cluster.waitConverged(undefined, RECOVERY_MS);
    for (const n of cluster.nodes) {
      const conn = cluster.client(n.index, { timeoutMs: 10_000 });
      for (const key of keys) await rec.run("final", n.index, "read", key, () => conn.keyStatus(ENCLAVE, key));
    }
    const finals = rec.events.filter((e) => e.client === "final");
    const badFinal = finals.filter((e) => e.outcome.type !== "ok" && !(e.outcome.type === "err" && e.outcome.status === 404));
    assert.deepEqual(badFinal.map(formatEvent), [], "every final read is answered");

    const history: readonly HistoryEvent[] = rec.events;
    const counts = summarize(history);
    const t = performance.now();
    const verdict = checkHistory(history, {
      asUnknown: AMBIGUOUS && ((e) => e.op !== "read" && e.outcome.type === "err" && e.outcome.status === 503 && AMBIGUOUS.test(e.outcome.message)),
    });
    if (AMBIGUOUS) console.log(`  AMBIGUOUS_503=${AMBIGUOUS.source}: such 503s are read as unknown (diagnosis, not the promise)`);
    console.log(`  ${history.length} ops ${JSON.stringify(counts)}; checked in ${(performance.now() - t).toFixed(0)} ms; ` +
      `recoveries (ms): ${recoveries.map((r) => r.toFixed(0)).join(" ")}`);
    const problems: string[] = [];
    if (!verdict.linearizable) problems.push(`${describeResult(verdict, history)}\n${diagnose(history, verdict.violations.map((v) => v.key))}`);
    if ((counts["create ok"] ?? 0) + (counts["delete ok"] ?? 0) === 0) problems.push(`no write was acknowledged: ${JSON.stringify(counts)}`);
    if (verdict.anomalies.length) problems.push(`writes failed with unexpected errors:\n  ${verdict.anomalies.slice(0, 10).map(formatEvent).join("\n  ")}`);
    try {
      const hash = await cluster.assertSameState(cluster.nodes.map((n) => n.index));
      console.log(`  every node's state hash: ${hash.slice(0, 16)}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (problems.length) throw new Error(`${problems.join("\n\n")}\nreplay: ${replay}`);
    ok = true;
  } finally {
    if (!ok) console.log(`cluster-faults: FAILED ${size} nodes seed ${seed} (replay: ${replay})\n${cluster.report()}`);
    await cluster.close();
  }
}

/**
 * Why a history is not linearizable: every operation on the offending keys,
 * and whether it becomes linearizable when some failures are read as unknown
 * (which says which failures were not definite).
 */
function diagnose(history: readonly HistoryEvent[], keys: readonly string[]): string {
  const lines = keys.slice(0, 3).map((k) =>
    `all operations on ${k}:\n` + history.filter((e) => e.key === k).sort((x, y) => x.invoke - y.invoke).map((e) => `    ${formatEvent(e)}`).join("\n"));
  const messages = [...new Set(history.flatMap((e) => (e.op !== "read" && e.outcome.type === "err" && e.outcome.status === 503 ? [e.outcome.message] : [])))];
  for (const m of messages) {
    const n = history.filter((e) => e.outcome.type === "err" && e.outcome.message === m && e.op !== "read").length;
    const r = checkHistory(history, { asUnknown: (e) => e.outcome.type === "err" && e.outcome.message === m });
    lines.push(`reading the ${n} writes that failed with 503 "${m}" as unknown: ${r.linearizable ? "LINEARIZABLE (such failures are not definite)" : "still not linearizable"}`);
  }
  const all = checkHistory(history, { failedWrites: "unknown" });
  lines.push(`reading every 503 write as unknown: ${all.linearizable ? "linearizable" : "still not linearizable"}`);
  return lines.join("\n");
}

describe("cluster: faults, linearizability and convergence", () => {
  after(cleanup);
  for (const size of SIZES) {
    for (const seed of seedsFor(size)) {
      it(`${size} nodes, seed ${seed}: kill -9, restarts and cuts under concurrent clients; linearizable; identical state`, { timeout: 300_000 }, () => run(size, seed));
    }
  }
});
