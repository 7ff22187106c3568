/**
 * A start's reading in process: a data directory of N keys (made as the
 * scale rows make it: a node's own directory grown by support/seed.ts) is
 * opened as a server opens it (openStore with the key rings taken as they
 * are read, then stateOf), in a process of its own, and its time and memory
 * per key printed: the store's open, stateOf, the heap after a full
 * collection (bun:jsc), the resident memory at its peak and after. Bun only.
 * Run: bun bench/start-heap.ts [keys] [--dir DIR] (DIR is kept: run again on it
 * with --dir to skip the seeding; its HSM key is DIR.hsm).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { heapStats } from "bun:jsc";
import { SoftHsm } from "../lib/hsm/soft.ts";
import { RingTaker, stateOf } from "../lib/state/records.ts";
import { openStore } from "../lib/store/store.ts";
import { ENCLAVE, KEY_PREFIX, prepareKms } from "./scenarios/generate.ts";
import { seedInChild } from "./support/seed.ts";
import { Fleet } from "./support/servers.ts";

/** Opens `dir` as a server does and prints what it cost per row (run in a fresh process). */
async function measure(dir: string): Promise<void> {
  const gc = () => (Bun.gc(true), Bun.gc(true));
  gc();
  const heap0 = heapStats().heapSize, rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const rings = new RingTaker();
  let rows = 0; // every row read (take sees each once)
  const store = await openStore(dir, SoftHsm.parse(readFileSync(`${dir}.hsm`, "utf8")), { take: (k, v) => (rows++, rings.take(k, v)) });
  const t1 = performance.now();
  const records = await store.load();
  const state = stateOf(records, { lazyRings: rings });
  const t2 = performance.now();
  const rssPeak = process.memoryUsage().rss;
  records.clear();
  gc();
  const per = (bytes: number) => Math.round(bytes / rows);
  console.log(JSON.stringify({
    rows, openMs: Math.round(t1 - t0), stateOfMs: Math.round(t2 - t1),
    heapPerRow: per(heapStats().heapSize - heap0), rssPerRowAtLoad: per(rssPeak - rss0), rssPerRowAfterGc: per(process.memoryUsage().rss - rss0),
    enclaves: state.enclaves.size,
  }));
  await store.close();
}

if (process.argv[2] === "--measure") await measure(process.argv[3]);
else {
  const keys = Number(process.argv[2] ?? 200_000);
  const at = process.argv.indexOf("--dir");
  const fleet = new Fleet();
  try {
    const dir = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(fleet.tempDir(), "data");
    if (!existsSync(`${dir}.hsm`)) {
      const hsmKey = SoftHsm.generate();
      const server = await fleet.startKms({ dir, hsmKey });
      await prepareKms(server);
      await server.stop();
      writeFileSync(`${dir}.hsm`, hsmKey, { mode: 0o600 });
      console.log(`seeded ${JSON.stringify(await seedInChild(dir, hsmKey, ENCLAVE, KEY_PREFIX, keys))}`);
    }
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--measure", dir], { stdio: "inherit" });
    if (child.status !== 0) throw new Error(`the measuring process exited with ${child.status}`);
  } finally {
    await fleet.cleanup();
  }
}
