/**
 * Rows "scale.*": what a key costs. One data directory is measured with one
 * key (the empty server), then seeded to N keys through the API by 64
 * concurrent writers, and measured again after a restart: resident memory,
 * start-up time, disk bytes, GENERATE across all keys, listing pages. Figures
 * for a million keys are linear extrapolations from N, and say so.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import type { Bench } from "../support/bench.ts";
import { combine, type LoadResult, runLoad } from "../support/load.ts";
import { keyName } from "../support/loads.ts";
import { rssBytes } from "../support/proc.ts";
import { bytes, ms, num } from "../support/report.ts";
import type { KmsProcess } from "../support/servers.ts";
import { ENCLAVE, KEY_PREFIX, prepareKms, singleGenerate } from "./generate.ts";

const FRAMES = 1000;
const SEED_WRITERS = 64;
// Seeding runs in chunks, so a key set cut short by the time budget still has names 0..k-1.
const SEED_CHUNKS = 10;
const MILLION = 1_000_000;

/** A started server, how long it took to answer a GENERATE, and its resident memory then. */
interface Started {
  readonly server: KmsProcess;
  readonly readyMs: number;
  readonly rss: number;
}

/** Starts the server on `dir` and waits until it answers a GENERATE (a 30 s deadline). */
async function startTimed(b: Bench, dir: string, hsmKey: string): Promise<Started> {
  const t0 = performance.now();
  const server = await b.fleet.startKms({ dir, hsmKey });
  const admin = server.client();
  const deadline = t0 + 30_000;
  for (;;) {
    try {
      await admin.generate(ENCLAVE, keyName(KEY_PREFIX, 0));
      break;
    } catch (err) {
      // Until the node has elected itself it answers 503: ask again at once.
      if (performance.now() > deadline) throw err;
    }
  }
  return { server, readyMs: performance.now() - t0, rss: rssBytes(server.pid) };
}

/**
 * Creates keys 1..n-1 through the API, a chunk at a time, until done or the
 * time budget is spent; resolves with the keys the enclave then holds.
 */
async function seedKeys(b: Bench, server: KmsProcess, n: number): Promise<LoadResult & { keys: number }> {
  const chunk = Math.max(SEED_WRITERS * 4, Math.ceil(n / SEED_CHUNKS));
  const runs: LoadResult[] = [];
  const start = performance.now();
  let next = 1;
  while (next < n && performance.now() - start < b.opts.seedSeconds * 1000) {
    const to = Math.min(n, next + chunk);
    runs.push(await runLoad({
      address: server.address, ca: server.ca, apiKey: server.apiKey, serverPids: [server.pid],
      load: { kind: "create", enclave: ENCLAVE, prefix: KEY_PREFIX, from: next, to }, connections: SEED_WRITERS, workers: b.opts.workers,
    }));
    next = to;
  }
  return { ...combine(runs), keys: next };
}

/** Bytes of the files in a data directory. */
function dirBytes(dir: string): { total: number; files: Record<string, number> } {
  const files: Record<string, number> = {};
  for (const f of readdirSync(dir)) files[f] = statSync(path.join(dir, f)).size;
  return { total: Object.values(files).reduce((a, b) => a + b, 0), files };
}

/** The key-scale rows, for b.opts.keys keys. */
export async function scaleRows(b: Bench): Promise<void> {
  const n = Math.max(2, b.opts.keys);
  const hsmKey = SoftHsm.generate();
  const dir = path.join(b.fleet.tempDir(), "data");
  const first = await b.fleet.startKms({ dir, hsmKey });
  await prepareKms(first);
  await first.stop();
  const disk1 = dirBytes(dir);

  // One key: start-up, memory and pipelined GENERATE of the empty server.
  const one = await startTimed(b, dir, hsmKey);
  const gen1 = await b.load(one.server, singleGenerate(FRAMES), 4, { opsPerRequest: FRAMES });
  const seed = await seedKeys(b, one.server, n);
  const keys = seed.keys;
  await one.server.stop();
  const diskN = dirBytes(dir);

  const full = await startTimed(b, dir, hsmKey);
  try {
    b.add({
      id: "scale.seed", label: `seeding ${num(keys)} keys through the API, ${SEED_WRITERS} writers, 1 node`,
      value: seed.opsPerSec, unit: "creates/s", perCpu: seed.opsPerServerCpuSec,
      notes: `${num(seed.seconds)} s; ${seed.errors} errors${seed.firstError ? ` (first: ${seed.firstError})` : ""}; p50 ${ms(seed.p50Ms)}, p99 ${ms(seed.p99Ms)}` +
        (keys < n ? `; stopped at the ${num(b.opts.seedSeconds)}-s budget with ${num(keys)} of the ${num(n)} keys asked for` : ""),
      detail: { load: seed },
    });
    const perKey = (full.rss - one.rss) / (keys - 1);
    const writing = (seed.peakRss - one.rss) / (keys - 1);
    b.add({
      id: "scale.rss", label: `resident memory per key above the empty server (${num(keys)} keys, after restart)`,
      value: perKey, unit: "B/key", goal: "≤ 300 B",
      notes: `empty ${bytes(one.rss)}, ${num(keys)} keys ${bytes(full.rss)}; peak while seeding ${bytes(seed.peakRss)} (${bytes(writing)}/key); ` +
        `extrapolated linearly: +${bytes(perKey * MILLION)} per million keys`,
      detail: { emptyRss: one.rss, fullRss: full.rss, seedPeakRss: seed.peakRss },
    });
    const perMillion = ((full.readyMs - one.readyMs) / (keys - 1)) * MILLION / 1000;
    b.add({
      id: "scale.startup", label: `start-up to the first GENERATE with ${num(keys)} keys`,
      value: full.readyMs / 1000, unit: "s",
      ceiling: { label: "with 1 key", value: one.readyMs / 1000, unit: "s" }, ratio: full.readyMs / one.readyMs, ratioOf: "value",
      goal: "≤ 10 s with 1M keys",
      notes: perMillion > 0
        ? `extrapolated linearly: ${num(one.readyMs / 1000 + perMillion)} s with a million keys (+${num(perMillion)} s per million)`
        : `no growth measurable with ${num(keys)} keys (noise is larger): use more --keys to extrapolate`,
      detail: { oneKeyMs: one.readyMs, nKeysMs: full.readyMs, bannerMs: full.server.bannerMs },
    });
    const genN = await b.load(full.server, singleGenerate(FRAMES, keys), 4, { opsPerRequest: FRAMES });
    const genOneOfN = await b.load(full.server, singleGenerate(FRAMES), 4, { opsPerRequest: FRAMES });
    b.add({
      id: "scale.generate", label: `GENERATE, ${num(FRAMES)} frames/request over ${num(keys)} keys at random`,
      value: genN.opsPerSec, unit: "ops/s", perCpu: genN.opsPerServerCpuSec,
      ceiling: { label: "over 1 key (empty server)", value: gen1.opsPerServerCpuSec, unit: "ops/CPU-s" },
      ratio: genN.opsPerServerCpuSec / gen1.opsPerServerCpuSec, ratioOf: "perCpu", goal: "≥ 0.95",
      notes: `1 key: ${num(gen1.opsPerSec)} ops/s; server ${num(genN.serverCores)} cores; ` +
        `key 0 alone on this ${num(keys)}-key server: ${num(genOneOfN.opsPerServerCpuSec)}/CPU-s (holding the keys vs spreading over them)`,
      detail: { keys, oneKey: gen1, nKeys: genN, oneOfNKeys: genOneOfN },
    });
    const offsets = { first: 0, middle: Math.floor(keys / 2), last: Math.max(0, keys - 1000) };
    for (const [where, offset] of Object.entries(offsets)) {
      const r = await b.load(full.server, { kind: "list", enclave: ENCLAVE, continueAt: keyName(KEY_PREFIX, offset), limit: 1000 }, 1, {
        seconds: Math.min(2, b.opts.seconds),
      });
      b.add({
        id: `scale.list.${where}`,
        label: `list a page of ${num(Math.min(1000, keys - offset))} keys at offset ${num(offset)} of ${num(keys)}`,
        value: r.p50Ms, unit: "ms", goal: "≤ 10 ms at any offset",
        notes: `p99 ${ms(r.p99Ms)}; ${num(r.opsPerServerCpuSec)} pages per server CPU-second; one request on one connection (round trip included)`,
        detail: { offset, load: r },
      });
    }
    const perKeyDisk = (diskN.total - disk1.total) / (keys - 1);
    b.add({
      id: "scale.disk", label: `disk per key (${num(keys)} keys, data directory after a clean stop)`,
      value: perKeyDisk, unit: "B/key", goal: "≤ 500 B after compaction",
      notes: `${Object.entries(diskN.files).map(([f, s]) => `${f} ${bytes(s)}`).join(", ")}; no compaction runs today; ` +
        `extrapolated linearly: ${bytes(perKeyDisk * MILLION)} per million keys`,
      detail: { oneKey: disk1, nKeys: diskN },
    });
  } finally {
    await full.server.stop();
  }
}
