/**
 * Rows "scale.*": what a key costs. One data directory is measured with one
 * key (the empty server), then grown to N keys by the bench-only seeder
 * (support/seed.ts: the store's own records, compacted as the driver does),
 * and measured again after a start on it: resident memory, start-up time,
 * disk bytes, GENERATE across all keys, listing pages. Before measuring, a
 * seeded key must serve: a GENERATE under it decrypts to its plaintext.
 */
import { readdirSync, statSync } from "node:fs";
import { Buffer } from "node:buffer";
import path from "node:path";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import type { Bench } from "../support/bench.ts";
import { keyName } from "../support/loads.ts";
import { rssBytes } from "../support/proc.ts";
import { seedInChild } from "../support/seed.ts";
import { bytes, ms, num } from "../support/report.ts";
import type { KmsProcess } from "../support/servers.ts";
import { ENCLAVE, KEY_PREFIX, prepareKms, singleGenerate } from "./generate.ts";

const FRAMES = 1000;
const MILLION = 1_000_000;

/** A started server, how long it took to answer a GENERATE, and its resident memory then. */
interface Started {
  readonly server: KmsProcess;
  readonly readyMs: number;
  readonly rss: number;
}

/** Starts the server on `dir` and waits until it answers a GENERATE (a 10-minute deadline: a million keys take long today). */
async function startTimed(b: Bench, dir: string, hsmKey: string): Promise<Started> {
  const t0 = performance.now();
  const server = await b.fleet.startKms({ dir, hsmKey });
  const admin = server.client();
  const deadline = t0 + 600_000;
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
  await one.server.stop();
  const seed = await seedInChild(dir, hsmKey, ENCLAVE, KEY_PREFIX, n);
  const keys = seed.keys;
  const seededDisk = dirBytes(dir);

  const full = await startTimed(b, dir, hsmKey);
  const answered = performance.now();
  try {
    await servesSeededKey(full.server, keyName(KEY_PREFIX, Math.floor(keys / 2)));
    b.add({
      id: "scale.seed", label: `seeding ${num(keys)} keys into a stopped node's directory (bench/support/seed.ts)`,
      value: seed.seconds, unit: "s",
      notes: `${num(seed.compactSeconds)} s of it compacting the log as the driver does; ` +
        `directory after seeding ${bytes(seededDisk.total)}; a seeded key served a GENERATE that decrypted`,
      detail: { seed, seededDisk },
    });
    const perKey = (full.rss - one.rss) / (keys - 1);
    b.add({
      id: "scale.rss", label: `resident memory per key above the empty server (${num(keys)} keys, after restart)`,
      value: perKey, unit: "B/key", goal: "≤ 300 B",
      notes: `empty ${bytes(one.rss)}, ${num(keys)} keys ${bytes(full.rss)}; extrapolated linearly: +${bytes(perKey * MILLION)} per million keys`,
      detail: { emptyRss: one.rss, fullRss: full.rss },
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
    // The start-up's garbage goes back to the OS only seconds later: memory once the loads above ran.
    const settled = rssBytes(full.server.pid);
    b.add({
      id: "scale.rss.settled", label: `resident memory per key above the empty server after the loads (${num(keys)} keys)`,
      value: (settled - one.rss) / (keys - 1), unit: "B/key", goal: "≤ 300 B",
      notes: `${bytes(settled)}, ${num((performance.now() - answered) / 1000)} s after the first answer (${bytes(full.rss)} then)`,
      detail: { settledRss: settled },
    });
  } finally {
    await full.server.stop();
  }
  // After a clean stop of a node that ran on the compacted directory (the WAL is checkpointed at open).
  const diskN = dirBytes(dir);
  const perKeyDisk = (diskN.total - disk1.total) / (keys - 1);
  b.add({
    id: "scale.disk", label: `disk per key (${num(keys)} keys, data directory after a clean stop)`,
    value: perKeyDisk, unit: "B/key", goal: "≤ 500 B after compaction",
    notes: `${Object.entries(diskN.files).map(([f, s]) => `${f} ${bytes(s)}`).join(", ")}; the log compacted (its snapshot refers to the state records); ` +
    `extrapolated linearly: ${bytes(perKeyDisk * MILLION)} per million keys`,
    detail: { oneKey: disk1, nKeys: diskN },
  });
}

/** Checks that the seeded key `name` serves: a GENERATE under it decrypts to the same plaintext. */
async function servesSeededKey(server: KmsProcess, name: string): Promise<void> {
  const admin = server.client();
  const g = await admin.generate(ENCLAVE, name);
  const d = await admin.decrypt(ENCLAVE, name, g.ciphertext as Uint8Array);
  const same = (a: unknown, b: unknown) => a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(b);
  if (!same(d.plaintext, g.plaintext)) throw new Error(`scale: the seeded key ${name} did not decrypt what it generated`);
}
