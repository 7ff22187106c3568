/**
 * Rows "observe.*": what metrics and the audit trail cost. Two kms servers,
 * one as shipped (metrics on, every request audited to the hash-chained
 * trail, flushed and fsynced in groups) and one started with
 * `--metrics off --audit-trail off`, take the same GENERATE load in turns;
 * the ratio is the first's operations per server CPU-second over the second's.
 */
import type { Bench } from "../support/bench.ts";
import { combine, type LoadResult } from "../support/load.ts";
import { num } from "../support/report.ts";
import type { KmsProcess } from "../support/servers.ts";
import { prepareKms, SINGLE_CONNECTIONS, singleGenerate } from "./generate.ts";

const FRAMES = 1000;
const PIPELINED_CONNECTIONS = 4;

/** The value of an unlabelled sample in Prometheus text, or 0. */
function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

/** The audit trail's own figures on `server`, from its metrics. */
async function trailFigures(server: KmsProcess): Promise<{ records: number; flushes: number; flushSeconds: number }> {
  const text = await server.client().text("/v1/health/metrics");
  return {
    records: sample(text, "kms_audit_trail_records_total"),
    flushes: sample(text, "kms_audit_trail_flushes_total"),
    flushSeconds: sample(text, "kms_audit_trail_flush_seconds_total"),
  };
}

/** Pipelined and single-op GENERATE, watched and not, measured in turns. */
export async function observeRows(b: Bench): Promise<void> {
  const on = await b.fleet.startKms();
  const off = await b.fleet.startKms({ args: ["--metrics", "off", "--audit-trail", "off"] });
  try {
    for (const s of [on, off]) await prepareKms(s);
    const measure = async (frames: number, connections: number) => {
      const opts = frames > 1 ? { opsPerRequest: frames } : {};
      for (const s of [on, off]) await b.warmup(s, singleGenerate(frames), connections, opts);
      const before = await trailFigures(on);
      const turns = await b.interleave([on, off].map((s) => (seconds: number) =>
        b.load(s, singleGenerate(frames), connections, { ...opts, seconds, warmup: false })));
      const after = await trailFigures(on);
      const [watched, bare] = turns.map(combine) as [LoadResult, LoadResult];
      const records = after.records - before.records, flushes = after.flushes - before.flushes;
      return { watched, bare, records, flushes, flushMs: (after.flushSeconds - before.flushSeconds) * 1000, turns: turns[0].length };
    };
    const add = (id: string, label: string, m: Awaited<ReturnType<typeof measure>>, goal?: string) => b.add({
      id, label, value: m.watched.opsPerSec, unit: "ops/s", perCpu: m.watched.opsPerServerCpuSec,
      ceiling: { label: "metrics and audit off", value: m.bare.opsPerServerCpuSec, unit: "ops/CPU-s" },
      ratio: m.watched.opsPerServerCpuSec / m.bare.opsPerServerCpuSec, ratioOf: "perCpu", ...(goal && { goal }),
      notes: `${num(m.records)} audit records in ${num(m.flushes)} group writes (${num(m.records / Math.max(1, m.flushes))} per fsync, ` +
        `${num(m.flushMs / Math.max(1, m.flushes))} ms each); ${num(m.bare.opsPerSec)} ops/s with both off; measured in ${m.turns} turns`,
      detail: { watched: m.watched, bare: m.bare, records: m.records, flushes: m.flushes, flushMs: m.flushMs },
    });
    add("observe.pipelined", `GENERATE, ${num(FRAMES)} frames/request, ${PIPELINED_CONNECTIONS} connections, metrics and audit on`, await measure(FRAMES, PIPELINED_CONNECTIONS), "≥ 0.95");
    add("observe.single", `GENERATE, 1 op/request, ${SINGLE_CONNECTIONS} connections, metrics and audit on`, await measure(1, SINGLE_CONNECTIONS));
  } finally {
    await on.stop();
    await off.stop();
  }
}
