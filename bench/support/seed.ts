/**
 * Bench-only: grows a stopped node's data directory to N keys through the
 * store's own code, far faster than creating them through the API (~500/s).
 * Every key is a copy of key 0 (same enclave, type and provenance) with fresh
 * material and its own name, written as the sealed `k/…` record the server
 * itself writes (recordOf); the replication state is then compacted exactly
 * as the driver compacts it (a snapshot at the applied index that refers to
 * the state records, the log up to it dropped, RecordStorage.write), so a
 * node starts on the directory and a follower would be sent every key.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RecordStorage } from "../../lib/node/record-storage.ts";
import type { Command } from "../../lib/state/commands.ts";
import { recordOf, STATE_REFERENCE, stateOf } from "../../lib/state/records.ts";
import type { KeyRing } from "../../lib/state/types.ts";
import { randomBytes } from "../../lib/crypto/random.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { openStore } from "../../lib/store/store.ts";
import { keyName } from "./loads.ts";

/** Records per store transaction while seeding. */
const BATCH = 20_000;

/** What seeding did. */
export interface Seeded {
  /** Keys the enclave holds now (key 0 included). */
  readonly keys: number;
  readonly seconds: number;
  /** Seconds of it spent compacting (as the driver does: O(1) since snapshots refer to the state records). */
  readonly compactSeconds: number;
}

/**
 * Adds keys name(1)..name(n-1) to `enclave` of the stopped node's directory
 * `dir`, copies of its key name(0). Throws if the directory's log holds a
 * membership change past its snapshot (the bench's single node never has one).
 */
export async function seedDirectory(dir: string, hsmKey: string, enclave: string, name: (i: number) => string, n: number): Promise<Seeded> {
  const t0 = performance.now();
  const store = await openStore(dir, SoftHsm.parse(hsmKey));
  try {
    const records = await store.load();
    const state = stateOf(records);
    const read = RecordStorage.read<Command>(records);
    if (!read) throw new Error("seed: the directory has no replication state: start a node on it once first");
    const { durable } = read;
    const template = state.keyRing(enclave, name(0));
    const keys = state.enclave(enclave).keys;
    let batch: Array<readonly [string, Uint8Array | null]> = [];
    for (let i = 1; i < n; i++) {
      const ring: KeyRing = { ...template, name: name(i), versions: template.versions.map((v) => ({ ...v, material: randomBytes(32) })) };
      keys.set(ring.name, ring);
      batch.push(recordOf({ kind: "key", enclave, name: ring.name, value: ring }));
      if (batch.length === BATCH) {
        await store.write(batch, false);
        batch = [];
      }
    }
    await store.write(batch);
    // Compact as the driver does: a follower is then sent the whole state, seeded keys included.
    const t1 = performance.now();
    const index = state.applied;
    const after = durable.entries.filter((e) => e.index > durable.snapshot.index && e.index <= index);
    if (after.some((e) => e.type === "conf")) throw new Error("seed: the log holds a membership change past its snapshot");
    const term = index === durable.snapshot.index ? durable.snapshot.term : after.find((e) => e.index === index)?.term;
    if (term === undefined) throw new Error(`seed: the applied entry ${index} is not in the log`);
    const storage = new RecordStorage<Command>(store, durable, read.rows);
    await storage.write({ hard: null, truncateFrom: null, entries: [], snapshot: { index, term, members: durable.snapshot.members, data: STATE_REFERENCE } });
    const t2 = performance.now();
    return { keys: keys.size, seconds: (t2 - t0) / 1000, compactSeconds: (t2 - t1) / 1000 };
  } finally {
    await store.close();
  }
}

/** The variable that hands the HSM key to the seeding process (never its arguments: they are visible in ps). */
const HSM_ENV = "KMS_BENCH_SEED_HSM_KEY";

/**
 * seedDirectory in a process of its own, so that every file handle on the
 * directory is gone (and its memory returned) before a node opens it.
 */
export async function seedInChild(dir: string, hsmKey: string, enclave: string, prefix: string, n: number): Promise<Seeded> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), dir, enclave, prefix, String(n)], {
    env: { ...process.env, [HSM_ENV]: hsmKey }, stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`seed: the seeding process exited with ${code}`);
  return JSON.parse(out) as Seeded;
}

if (import.meta.main) {
  const [dir, enclave, prefix, n] = process.argv.slice(2);
  const seeded = await seedDirectory(dir, process.env[HSM_ENV] ?? "", enclave, (i) => keyName(prefix, i), Number(n));
  console.log(JSON.stringify(seeded));
}
