/**
 * The deterministic simulation over many seeds. Each seed: chaos (drops,
 * delays, duplicates, reordering, partitions, crashes mid-Ready, membership
 * changes, compaction) with every invariant checked after every step, then
 * heal and require progress, then crash the leader with a write in flight
 * (reads of everything else must go on everywhere) and recover. Environment:
 *   SEED=n          run only seed n (printed first; add SIM_TRACE=1 for its events)
 *   SIM_SEEDS=n     number of seeds (default 2000)
 *   SIM_SEED_BASE=n first seed (default 1)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_RUN, runSeed } from "./sim/run.ts";

const env = (k: string) => (typeof process !== "undefined" ? process.env[k] : undefined);
const one = env("SEED");
const trace = env("SIM_TRACE") === "1";
const count = Number(env("SIM_SEEDS") ?? 2000);
const base = Number(env("SIM_SEED_BASE") ?? 1);
const CHUNK = 250;

if (one !== undefined) {
  test(`sim: seed ${one}`, { timeout: 600_000 }, () => {
    console.log(`sim: seed ${one}`);
    const { events, ...r } = runSeed(Number(one), { ...DEFAULT_RUN, trace });
    if (events) console.log(events.join("\n")); // SIM_TRACE=1: every event, as docs/cluster.md promises
    console.log(JSON.stringify(r));
  });
} else {
  console.log(`sim: seeds ${base}..${base + count - 1} (SIM_SEEDS=, SIM_SEED_BASE=, SEED= to change)`);
  for (let lo = base; lo < base + count; lo += CHUNK) {
    const hi = Math.min(lo + CHUNK, base + count) - 1;
    test(`sim: seeds ${lo}..${hi} keep every invariant and settle after healing`, { timeout: 600_000 }, () => {
      const t0 = performance.now();
      let acked = 0;
      let steps = 0;
      let settle = 0;
      let stuck = 0;
      let settled = 0;
      for (let s = lo; s <= hi; s++) {
        const r = runSeed(s);
        acked += r.acked;
        steps += r.steps;
        settle = Math.max(settle, r.settledAfter);
        stuck += r.outageUnsettled;
        settled += r.outageSettled;
        assert.ok(r.settledAfter > 0);
      }
      const ms = Math.round(performance.now() - t0);
      console.log(`sim: seeds ${lo}..${hi}: ${steps} steps, ${acked} acknowledged writes, slowest settle ${settle} steps, ` +
        `outage survivors: ${settled} settled the write in flight, ${stuck} knew they could not; ${ms} ms`);
    });
  }
}

test("SIM_TRACE=1 replays a seed with its events (docs/cluster.md)", () => {
  const r = runSeed(7, { ...DEFAULT_RUN, chaosSteps: 50, trace: true });
  assert.ok((r.events?.length ?? 0) > 10, "a traced run returns its events");
  assert.match(r.events![0], /^0 n\d+ start /);
  assert.equal(runSeed(7, { ...DEFAULT_RUN, chaosSteps: 50 }).events, undefined, "untraced runs keep none");
});
