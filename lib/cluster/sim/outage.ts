/**
 * The outage invariant (liveness of reads): with the leader dead and one
 * write in flight, every survivor answers reads of everything that write
 * does not touch at the first try, for the whole outage; and within a bound
 * every survivor has either settled the write (it is no longer pending
 * there) or knows that it cannot (`unsettled()` says why), so a read of the
 * written key is refused at once instead of waiting for nothing.
 */
import { InvariantError } from "./checker.ts";
import { KEYS, type SimCluster, type SimNode } from "./cluster.ts";

/** What one outage did, for the run's report. */
export interface OutageResult {
  /** Survivors that still held the write after the bound (and said why they could not settle it). */
  unsettled: number;
  /** Survivors that settled it themselves (or never had it). */
  settled: number;
}

/**
 * Most consecutive steps a survivor may expect a write it cannot settle to
 * settle: a new leader's activeTicks of silence from the dead node, then a
 * heartbeat to tell its followers (clocks may run 20% slow).
 */
export function expectBound(sim: SimCluster): number {
  return 2 * sim.p.electionTicks + 3 * sim.p.heartbeatTicks + 2 * sim.net.faults.delayMax;
}

/**
 * Writes `key` through the leader, lets it travel for `lead` steps, crashes
 * the leader, then runs `steps` steps checking the invariant after each.
 * Returns null when there is no writable leader with a follower to try it on.
 */
export function leaderOutage(sim: SimCluster, key: string, lead: number, steps: number): OutageResult | null {
  const l = sim.leader();
  if (!l?.raft!.writable() || l.raft!.status().members.length < 2) return null;
  const op = sim.write(l, key);
  if (sim.fails.has(op)) return null;
  for (let i = 0; i < lead; i++) sim.step({ faults: false, writes: false });
  if (!l.raft) return null;
  sim.log(`OUTAGE: crash leader n${l.id} with write ${op} to ${key} in flight`);
  const members = new Set(l.raft.status().members.map((m) => m.id));
  sim.crash(l);
  const survivors = sim.live().filter((n) => members.has(n.id));
  const others = KEYS.filter((k) => k !== key);
  const bound = expectBound(sim);
  const expecting = new Map<number, number>();
  for (let s = 0; s < steps; s++) {
    sim.step({ faults: false, writes: false });
    for (const n of survivors) {
      for (const k of others) {
        const r = sim.read(n, k);
        if (r !== "served") throw new InvariantError(`outage: a read of untouched key ${k} on n${n.id} was ${r} at the first try, ${s + 1} steps into the leader's outage`);
      }
      const waited = stuck(n, key) && n.raft!.unsettled() === null ? (expecting.get(n.id) ?? 0) + 1 : 0;
      if (waited > bound) throw new InvariantError(`outage: n${n.id} has held the write to ${key} uncommitted for ${waited} steps, expecting it to settle`);
      expecting.set(n.id, waited);
    }
  }
  const unsettled = survivors.filter((n) => stuck(n, key)).length;
  return { unsettled, settled: survivors.length - unsettled };
}

/** Whether `n` holds a write to `key` uncommitted. */
function stuck(n: SimNode, key: string): boolean {
  const r = n.raft!;
  return r.pending().some((e) => e.index > r.commit && e.type === "cmd" && e.cmd.key === key);
}
