/**
 * Leader outages with real processes (3 and 5 nodes). Writers create fresh
 * keys on every node and read each acknowledged one back on another node;
 * crypto clients GENERATE and DECRYPT with a fixed key in the writers'
 * enclave, and readers read keys nobody writes, on every node. A seeded
 * nemesis takes the leader down three ways, each for OUTAGE_MS: kill -9,
 * SIGTERM (a graceful stop: then it must start again at once on its data
 * directory), and SIGSTOP/SIGCONT (it wakes up still believing it leads).
 *
 * Checked per run: the history (creates, read-backs, untouched reads, final
 * listings of every node) is linearizable; no write reported as failed
 * exists afterwards; every node ends with the same state; zero failed crypto
 * calls or reads of untouched keys on live nodes, throughout each outage;
 * survivors stay ready for reads and list the dead node as down within a
 * few seconds; a read of a key whose write's fate died with the leader is
 * answered within a second, settled or with a 503 naming the cause.
 *
 * Run alone with: bun test --timeout 900000 tests/e2e/cluster-outage.test.ts
 *   NODES=3,5     cluster sizes (default 3)         RUNS=N      seeds per size (default 1)
 *   SEED=N        replay one seed                   OUTAGE_MS=N each outage (default 2500)
 *   THREADS=1,2   serving threads per node (`--threads`; default: one run of each)
 *   CLUSTER_LOG=1 print the cluster's timeline as it happens
 * The promise is tried with NODES=3,5 RUNS=5 OUTAGE_MS=10000 (20 runs, ~30 min).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { Prng } from "../../lib/cluster/prng.ts";
import { startCluster, until } from "../helpers/cluster.ts";
import { cleanup } from "../helpers/kms.ts";
import { checkHistory, describeResult, formatEvent, HistoryRecorder, type Outcome } from "../helpers/linearizability.ts";

const SIZES = (process.env.NODES ?? "3").split(",").map(Number);
const RUNS = Number(process.env.RUNS ?? 1);
const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 2_500);
/** Serving threads per node: with 2 a frozen or killed node takes every thread down with it, and reads are served by threads' replicas. */
const THREADS = (process.env.THREADS ?? "1,2").split(",").map(Number);
const ENCLAVE = "outage";
const FIXED = "fixed";
const UNTOUCHED = ["u0", "u1", "u2"];
/** Writers give up after this (an unknown outcome); crypto and reads on a loaded machine may take longer but must not fail. */
const WRITE_TIMEOUT_MS = 4_000;
const READ_TIMEOUT_MS = 15_000;
const FAULTS = ["kill", "term", "stop"] as const;
type Fault = (typeof FAULTS)[number];

/** Waits ms of schedule time (pacing only; never to wait for a condition). */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call of a client that must never fail on a live node. */
interface Call {
  readonly what: string;
  readonly node: number;
  readonly invoke: number;
  readonly response: number;
  readonly error?: string;
}

/** When a node was down (or frozen): calls to it overlapping a window are excused. */
class Windows {
  readonly #open = new Map<number, number>();
  readonly #closed: { node: number; from: number; to: number }[] = [];
  down(node: number): void {
    this.#open.set(node, performance.now());
  }
  up(node: number): void {
    this.#closed.push({ node, from: this.#open.get(node)!, to: performance.now() });
    this.#open.delete(node);
  }
  isDown(node: number): boolean {
    return this.#open.has(node);
  }
  excused(c: Call): boolean {
    if (this.#open.has(c.node) && c.response >= this.#open.get(c.node)!) return true;
    return this.#closed.some((w) => w.node === c.node && c.invoke <= w.to && c.response >= w.from);
  }
}

/** What a run measured, for the report. */
interface RunReport {
  size: number;
  seed: number;
  /** Per fault: survivors' crypto calls during the outage and how many succeeded. */
  outages: { fault: Fault; calls: number; ok: number; ms: number }[];
  /** Slowest crypto call on a live node (ms). */
  slowest: number;
  /** Reads on survivors of keys whose write left with the leader: answered settled / refused naming the cause. */
  probes: { settled: number; refused: number };
  termToExitMs: number;
  writes: Record<string, number>;
}

const reports: RunReport[] = [];

/** An outcome as one short line (status and message, addresses and numbers elided so equal causes group). */
function formatOutcome(o: Outcome): string {
  const text = o.type === "err" ? `${o.status} ${o.message}` : o.type === "ok" ? "ok" : `${o.type}: ${o.message}`;
  return text.replace(/\d+(\.\d+)*(:\d+)?/g, "N").slice(0, 160);
}

async function run(size: number, seed: number, threads: number): Promise<void> {
  const replay = `SEED=${seed} NODES=${size} THREADS=${threads} OUTAGE_MS=${OUTAGE_MS} bun test --timeout 900000 tests/e2e/cluster-outage.test.ts`;
  console.log(`cluster-outage: ${size} nodes of ${threads} serving thread(s), seed ${seed}, outages of ${OUTAGE_MS} ms (replay: ${replay})`);
  const rng = new Prng(seed);
  const extraArgs = threads > 1 ? ["--threads", String(threads)] : [];
  const cluster = await startCluster({ size, extraArgs, log: process.env.CLUSTER_LOG ? console.log : undefined });
  let ok = false;
  try {
    const admin = cluster.client(0);
    await admin.createEnclave(ENCLAVE);
    for (const k of [FIXED, ...UNTOUCHED]) await admin.createKey(ENCLAVE, k);
    await cluster.waitConverged();

    const rec = new HistoryRecorder();
    const windows = new Windows();
    const calls: Call[] = [];
    const unknownWrites: string[] = [];
    const attempted = new Set<string>();
    // Clients per node incarnation: a restarted node gets fresh connections.
    const clients = cluster.nodes.map((n) => cluster.client(n.index, { timeoutMs: READ_TIMEOUT_MS }));
    const writers = cluster.nodes.map((n) => cluster.client(n.index, { timeoutMs: WRITE_TIMEOUT_MS }));
    const renew = (i: number) => {
      clients[i] = cluster.client(i, { timeoutMs: READ_TIMEOUT_MS });
      writers[i] = cluster.client(i, { timeoutMs: WRITE_TIMEOUT_MS });
    };
    let stop = false;

    const record = async (what: string, node: number, fn: (c: KmsClient) => Promise<unknown>) => {
      const invoke = performance.now();
      let error: string | undefined;
      try {
        await fn(clients[node]);
      } catch (err) {
        error = `${(err as { status?: number }).status ?? ""} ${(err as Error).message}`;
      }
      calls.push({ what, node, invoke, response: performance.now(), error });
    };

    const crypto = async (node: number) => {
      const context = new TextEncoder().encode(`node ${node}`);
      while (!stop) {
        if (windows.isDown(node)) await pause(50);
        await record("generate+decrypt", node, async (c) => {
          const g = await c.generate(ENCLAVE, FIXED, context);
          const d = await c.decrypt(ENCLAVE, FIXED, g.ciphertext as Uint8Array, context);
          assert.deepEqual(d.plaintext, g.plaintext);
        });
      }
    };

    const reader = async (node: number) => {
      const r = new Prng(seed * 100 + node);
      while (!stop) {
        if (windows.isDown(node)) await pause(50);
        const key = r.pick(UNTOUCHED);
        const invoke = performance.now();
        const o = await rec.run(`reader-${node}`, node, "read", key, () => clients[node].keyStatus(ENCLAVE, key));
        calls.push({ what: `read ${key}`, node, invoke, response: performance.now(), error: o.type === "ok" ? undefined : JSON.stringify(o) });
        await pause(10);
      }
    };

    const writer = async (w: number) => {
      const r = new Prng(seed * 1_000 + w);
      for (let i = 0; !stop; i++) {
        const node = r.int(size);
        const other = (node + 1 + r.int(size - 1)) % size;
        const key = `w${w}-${i}`;
        attempted.add(key);
        const o = await rec.run(`writer-${w}`, node, "create", key, () => writers[node].createKey(ENCLAVE, key));
        if (o.type === "unknown" || (o.type === "err" && o.status === 504)) unknownWrites.push(key);
        if (o.type === "ok" && !windows.isDown(other)) await rec.run(`writer-${w}`, other, "read", key, () => clients[other].keyStatus(ENCLAVE, key));
        await pause(windows.isDown(node) ? 100 : 40);
      }
    };

    const report: RunReport = { size, seed, outages: [], slowest: 0, probes: { settled: 0, refused: 0 }, termToExitMs: -1, writes: {} };
    const problems: string[] = [];

    const outage = async (fault: Fault) => {
      await pause(400 + rng.int(800));
      let leader: number | undefined;
      await until(async () => (leader = await cluster.leader()) !== undefined || "no agreed leader", "a leader", 30_000);
      const l = leader!;
      const survivors = cluster.nodes.map((n) => n.index).filter((i) => i !== l);
      const down = cluster.peerAddress(l);
      windows.down(l);
      const t0 = performance.now();
      if (fault === "kill") await cluster.kill9(l);
      else if (fault === "stop") cluster.pause(l);
      else {
        // Writes straight to the leader keep it busy as the signal lands: each is answered
        // (committed, refused definitely, or "outcome unknown"), none waits on a stale barrier.
        let hammering = true;
        let sigterm = Infinity;
        const direct = cluster.client(l, { timeoutMs: 30_000 });
        const hammer = Array.from({ length: 4 }, async (_, h) => {
          for (let i = 0; hammering; i++) {
            const key = `t${h}-${i}`;
            attempted.add(key);
            const invoke = performance.now();
            const o = await rec.run(`term-${h}`, l, "create", key, () => direct.createKey(ENCLAVE, key));
            const late = o.type === "err" && /pending on the cluster/.test(o.message);
            if (invoke <= sigterm && late) problems.push(`SIGTERM: a write in flight waited for nothing and was answered ${JSON.stringify(o)}`);
            if (o.type === "failed") break; // the port is closed
          }
        });
        await pause(100);
        sigterm = performance.now();
        const code = await cluster.stop(l, "SIGTERM");
        report.termToExitMs = performance.now() - sigterm;
        hammering = false;
        await Promise.all(hammer);
        if (code !== 0) problems.push(`SIGTERM: node ${l} exited with ${code}`);
        // The drain (2.5 s) and the close (1 s) are bounded: the directory is free well before clients give up.
        if (report.termToExitMs > 8_000) problems.push(`SIGTERM: node ${l} took ${report.termToExitMs.toFixed(0)} ms to exit`);
      }
      // Survivors stay ready for reads and see the dead node as down.
      const seenDown = new Set<number>();
      const probed = new Set<string>();
      while (performance.now() - t0 < OUTAGE_MS) {
        for (const i of survivors) {
          const ready = await cluster.ready(i);
          if (ready !== 200) problems.push(`${fault}: survivor ${i} answered /v1/health/ready with ${ready} ${(performance.now() - t0).toFixed(0)} ms into the outage`);
          if (!seenDown.has(i)) {
            const s = await cluster.status(i).catch(() => undefined);
            if (s && Object.values(s.nodes_down).includes(down)) seenDown.add(i);
          }
        }
        // Writes whose fate left with the leader: a survivor answers at once, settled or with the cause.
        if (performance.now() - t0 > 4_000) {
          for (const key of unknownWrites.filter((k) => !probed.has(k)).slice(0, 5)) {
            probed.add(key);
            for (const i of survivors) {
              const s = performance.now();
              const o = await rec.run("prober", i, "read", key, () => clients[i].keyStatus(ENCLAVE, key));
              const ms = performance.now() - s;
              const settled = o.type === "ok" || (o.type === "err" && o.status === 404);
              const known = o.type === "err" && o.status === 503 && /cannot be settled while/.test(o.message);
              if (settled) report.probes.settled++;
              if (known) report.probes.refused++;
              if (!(settled || known) || ms > 1_500) problems.push(`${fault}: read of ${key} (written when the leader went) on survivor ${i}: ${JSON.stringify(o)} in ${ms.toFixed(0)} ms`);
            }
          }
        }
        await pause(200);
      }
      const ms = performance.now() - t0;
      if (seenDown.size < survivors.length) problems.push(`${fault}: only survivors ${[...seenDown].join(",")} listed node ${l} as down within ${ms.toFixed(0)} ms`);
      if (fault === "stop") cluster.resume(l);
      else await cluster.restart(l); // at once: the data directory is free
      renew(l);
      await until(async () => (await cluster.ready(l)) === 200 || "not ready", `node ${l} ready`, 30_000);
      windows.up(l);
      const during = calls.filter((c) => c.node !== l && c.what === "generate+decrypt" && c.invoke >= t0 && c.invoke <= t0 + ms);
      report.outages.push({ fault, calls: during.length, ok: during.filter((c) => !c.error).length, ms: Math.round(ms) });
      await cluster.waitRecovered(undefined, 60_000);
    };

    const workers = [
      ...cluster.nodes.map((n) => crypto(n.index)),
      ...cluster.nodes.map((n) => reader(n.index)),
      ...Array.from({ length: size }, (_, w) => writer(w)),
    ];
    try {
      const order = [...FAULTS];
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (const f of order) await outage(f);
      await pause(500);
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    // Every node's final listing is a read of every key written, at one moment.
    await cluster.waitConverged(undefined, 60_000);
    const final = performance.now();
    const exists: Set<string>[] = [];
    for (const n of cluster.nodes) {
      const names = new Set<string>();
      let continueAt = "";
      do {
        const page = await cluster.client(n.index).listKeys(ENCLAVE, "", continueAt);
        for (const k of (page.keys ?? []) as { name: string }[]) names.add(k.name);
        continueAt = String(page.continue_at ?? "");
      } while (continueAt);
      exists.push(names);
      for (const key of attempted) {
        rec.events.push({ client: "final", node: n.index, op: "read", key, invoke: final, response: final, outcome: names.has(key) ? { type: "ok" } : { type: "err", status: 404, message: "key does not exist" } });
      }
    }

    const writes = rec.events.filter((e) => e.op === "create");
    for (const e of writes) {
      const k = e.outcome.type === "err" ? `create ${e.outcome.status}` : `create ${e.outcome.type}`;
      report.writes[k] = (report.writes[k] ?? 0) + 1;
    }
    const messages = new Map<string, number>();
    for (const e of writes) if (e.outcome.type !== "ok") messages.set(formatOutcome(e.outcome), (messages.get(formatOutcome(e.outcome)) ?? 0) + 1);
    console.log(`  write failures: ${[...messages].map(([m, n]) => `${n}× ${m}`).join("; ")}`);
    const failedButThere = writes.filter((e) => e.outcome.type === "err" && e.outcome.status === 503 && exists[0].has(e.key));
    if (failedButThere.length) problems.push(`writes reported failed (503) that exist afterwards:\n  ${failedButThere.slice(0, 10).map(formatEvent).join("\n  ")}`);
    const lostAcks = writes.filter((e) => e.outcome.type === "ok" && !exists[0].has(e.key));
    if (lostAcks.length) problems.push(`acknowledged writes missing afterwards:\n  ${lostAcks.slice(0, 10).map(formatEvent).join("\n  ")}`);
    if (!writes.some((e) => e.outcome.type === "ok")) problems.push("no write was acknowledged");
    const verdict = checkHistory(rec.events, { initial: (k) => UNTOUCHED.includes(k) });
    if (!verdict.linearizable) problems.push(describeResult(verdict, rec.events));
    const failedLive = calls.filter((c) => c.error && !windows.excused(c));
    if (failedLive.length) {
      problems.push(`${failedLive.length} crypto calls or reads of untouched keys failed on live nodes:\n  ` +
        failedLive.slice(0, 10).map((c) => `${c.what} on node ${c.node} at ${c.invoke.toFixed(0)}..${c.response.toFixed(0)}: ${c.error}`).join("\n  "));
    }
    try {
      const hash = await cluster.assertSameState();
      console.log(`  every node's state hash: ${hash.slice(0, 16)}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    report.slowest = Math.max(0, ...calls.filter((c) => c.what === "generate+decrypt" && !windows.excused(c)).map((c) => c.response - c.invoke));
    reports.push(report);
    console.log(`  ${calls.length} crypto calls and untouched reads, ${writes.length} writes ${JSON.stringify(report.writes)}; ` +
      `outages: ${report.outages.map((o) => `${o.fault} ${o.ms} ms: ${o.ok}/${o.calls} crypto calls ok on survivors`).join("; ")}; ` +
      `SIGTERM → exit ${report.termToExitMs.toFixed(0)} ms; slowest crypto call on a live node ${report.slowest.toFixed(0)} ms; ` +
      `reads of writes lost with the leader: ${report.probes.settled} settled, ${report.probes.refused} refused at once naming the cause`);
    if (problems.length) throw new Error(`${problems.join("\n\n")}\nreplay: ${replay}`);
    ok = true;
  } finally {
    if (!ok) console.log(`cluster-outage: FAILED ${size} nodes seed ${seed} (replay: ${replay})\n${cluster.report()}`);
    await cluster.close();
  }
}

describe("cluster: leader outages (kill -9, SIGTERM, SIGSTOP) under writers, readers and crypto clients", () => {
  after(async () => {
    await cleanup();
    if (reports.length > 0) {
      const all = reports.flatMap((r) => r.outages);
      const calls = all.reduce((n, o) => n + o.calls, 0);
      const okCalls = all.reduce((n, o) => n + o.ok, 0);
      const terms = reports.map((r) => r.termToExitMs).sort((a, b) => a - b);
      console.log(`cluster-outage: ${reports.length} runs, ${all.length} outages: ${okCalls}/${calls} crypto calls ok on survivors ` +
        `(${((100 * okCalls) / Math.max(1, calls)).toFixed(3)}%); SIGTERM → exit: min ${terms[0].toFixed(0)} ms, max ${terms[terms.length - 1].toFixed(0)} ms`);
    }
  });
  for (const size of SIZES) {
    const seeds = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: RUNS }, (_, k) => size * 100 + k + 1);
    for (const seed of seeds) {
      for (const threads of THREADS) {
        const with_ = threads > 1 ? ` of ${threads} serving threads` : "";
        it(`${size} nodes${with_}, seed ${seed}: linearizable, no failed write exists, identical state, no failed crypto or untouched read on live nodes`, { timeout: 900_000 }, () => run(size, seed, threads));
      }
    }
  }
});
