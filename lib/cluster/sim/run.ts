/**
 * One simulation run per seed, in phases: chaos (every fault, safety checked
 * after every step); heal everything and require progress within a bound (a
 * writable leader, every proposal resolved, a new write acknowledged, every
 * member converged); then a leader outage with a write in flight (reads of
 * everything else go on at every survivor, see outage.ts) and recovery.
 */
import { Prng } from "../prng.ts";
import { InvariantError } from "./checker.ts";
import { KEYS, randomParams, SimCluster, type SimParams } from "./cluster.ts";
import { leaderOutage } from "./outage.ts";

/** Lengths of the two phases, in steps (one step = one tick of every node). */
export interface RunOptions {
  chaosSteps: number;
  settleSteps: number;
  /** Length of the leader outage after settling (0: none). */
  outageSteps: number;
  trace: boolean;
  /** Overrides of the seed's random parameters. */
  params?: Partial<SimParams>;
}

/** Defaults: a few hundred steps per seed, so thousands of seeds run in a minute. */
export const DEFAULT_RUN: RunOptions = { chaosSteps: 600, settleSteps: 400, outageSteps: 80, trace: false };

/** What one seed did. */
export interface RunResult {
  seed: number;
  params: SimParams;
  steps: number;
  settledAfter: number;
  commit: number;
  acked: number;
  failed: number;
  reads: number;
  readsBlocked: number;
  messages: number;
  /** Survivors of the outage that could not settle the write in flight (and said so) / that settled it. */
  outageUnsettled: number;
  outageSettled: number;
  /** Every event of the run, when traced (SIM_TRACE=1). */
  events?: readonly string[];
}

/** A failed seed: the message says what broke, how to replay it, and (when traced) the last events. */
export class SimFailure extends Error {
  override name = "SimFailure";
}

/** Runs one seed through chaos and then liveness; throws SimFailure on any violation. */
export function runSeed(seed: number, opts: RunOptions = DEFAULT_RUN): RunResult {
  const rng = new Prng(seed);
  const params = { ...randomParams(rng), ...opts.params };
  const sim = new SimCluster(rng, params, opts.trace);
  let phase = "chaos";
  try {
    for (let i = 0; i < opts.chaosSteps; i++) sim.step();
    phase = "liveness";
    sim.healAll();
    const healedAt = sim.now;
    settle(sim, opts.settleSteps);
    const settledAfter = sim.now - healedAt;
    phase = "outage";
    const o = opts.outageSteps > 0 ? leaderOutage(sim, sim.rng.pick(KEYS), sim.rng.int(4), opts.outageSteps) : null;
    phase = "recovery";
    sim.healAll();
    settle(sim, opts.settleSteps);
    const s = sim.checker.stats;
    return {
      seed, params, steps: sim.now, settledAfter, commit: sim.checker.commitIndex, acked: s.acked,
      failed: s.failed, reads: s.reads, readsBlocked: s.readsBlocked, messages: sim.net.sent,
      outageUnsettled: o?.unsettled ?? 0, outageSettled: o?.settled ?? 0,
      ...(sim.trace ? { events: sim.trace } : {}),
    };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const kind = e instanceof InvariantError ? "invariant broken" : "crashed";
    const tail = sim.trace ? `\nlast events:\n${sim.trace.slice(-80).join("\n")}` : "";
    const err = new SimFailure(
      `seed ${seed}: ${kind} in ${phase} phase at step ${sim.now}: ${why}\n` +
        `params: ${JSON.stringify(params)}\n` +
        `replay: SEED=${seed} node_modules/.bin/bun test lib/cluster/sim.test.ts   (add SIM_TRACE=1 for events)${tail}`,
    );
    if (!(e instanceof InvariantError) && e instanceof Error) err.stack = `${err.message}\ncaused by: ${e.stack}`;
    throw err;
  }
}

/** Steps without faults until a new write is acknowledged and the cluster has converged; throws after `max` steps. */
function settle(sim: SimCluster, max: number): void {
  let probe = 0;
  for (let i = 0; ; i++) {
    if (i >= max) throw new InvariantError(`no progress ${max} steps after healing: ${sim.unsettled()}`);
    sim.step({ faults: false, writes: false });
    if (probe === 0 || sim.fails.has(probe)) {
      const l = sim.someLeader();
      if (l?.raft!.writable()) probe = sim.write(l, KEYS[0]);
    }
    if (probe !== 0 && sim.acks.has(probe) && sim.unsettled() === null) return;
  }
}
