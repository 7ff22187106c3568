/**
 * The durable store's own costs: opening and loading a data directory of N
 * records (every row decrypted and verified, the digest checked), and the
 * latency of a write like one applied command (6 rows), and the CPU of a
 * Ready of 32 creates (32 log entries written durably through RecordStorage,
 * the commit index that then moves alone and their 32 state records unsynced,
 * as a node does). Each is printed with its ratio to the
 * same SQL on a bare libSQL file beside it (the ceiling: no encryption, no
 * digest). Run: bun bench/store.ts [records] [writes]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@libsql/client";
import Libsql from "libsql";
import { randomBytes } from "../lib/crypto/random.ts";
import { encodeBase64 } from "../lib/encoding/base64.ts";
import { SoftHsm } from "../lib/hsm/soft.ts";
import { openStore } from "../lib/store/store.ts";
import { bootstrapState } from "../lib/cluster/storage.ts";
import type { Entry } from "../lib/cluster/types.ts";
import { RecordStorage } from "../lib/node/record-storage.ts";

const records = Number(process.argv[2] ?? 50_000);
const writes = Number(process.argv[3] ?? 1_000);
const value = () => randomBytes(300); // about a key ring of two versions

/** User + system CPU of a process.cpuUsage() difference, in ms. */
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** A write like an applied command: a key ring, a log entry, the hard state and three counters. */
const batch = (i: number): Array<readonly [string, Uint8Array]> => [
  [`k/bench/w${i}`, value()], [`r/e/${i}`, value()], ["r/hard", randomBytes(60)],
  ["m/commit", randomBytes(4)], ["m/applied", randomBytes(4)], ["m/max-node-id", randomBytes(2)],
];

const tmp = await mkdtemp(join(tmpdir(), "kms-bench-store-"));
try {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const dir = join(tmp, "data");
  const store = await openStore(dir, hsm);
  for (let i = 0; i < records; i += 1_000) {
    await store.write(Array.from({ length: Math.min(1_000, records - i) }, (_, j) => [`k/bench/key-${i + j}`, value()] as const));
  }
  await store.close();

  // The ceiling: the same rows and statements on a bare file, in WAL mode with synchronous=FULL.
  const bare = createClient({ url: pathToFileURL(join(tmp, "bare.db")).href, concurrency: 1 });
  await bare.execute("PRAGMA journal_mode=WAL");
  await bare.execute("PRAGMA synchronous=FULL");
  await bare.execute("CREATE TABLE records (id BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID");
  for (let i = 0; i < records; i += 1_000) {
    await bare.batch(Array.from({ length: Math.min(1_000, records - i) }, () => ({ sql: "INSERT INTO records VALUES (?, ?)", args: [randomBytes(32), randomBytes(360)] })), "write");
  }

  const opens: number[] = [], bareReads: number[] = [];
  for (let r = 0; r < 3; r++) {
    let t = performance.now();
    const s = await openStore(dir, hsm);
    const map = await s.load();
    opens.push(performance.now() - t);
    if (map.size !== records) throw new Error(`loaded ${map.size} records`);
    await s.close();
    t = performance.now();
    await bare.execute("SELECT id, value FROM records");
    bareReads.push(performance.now() - t);
  }

  const s = await openStore(dir, hsm);
  const ours: number[] = [], ceiling: number[] = [];
  const upsert = "INSERT INTO records VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value";
  for (let i = 0; i < writes; i++) {
    let t = performance.now();
    await s.write(batch(i));
    ours.push(performance.now() - t);
    t = performance.now();
    await bare.batch(batch(i).map(() => ({ sql: upsert, args: [randomBytes(32), randomBytes(360)] })), "write");
    ceiling.push(performance.now() - t);
  }
  // A Ready of READY creates as a node writes it: the log entries and the hard state durably
  // (RecordStorage, as the driver persists a Ready), then the next Ready's new commit index
  // alone (unsynced, as RecordStorage writes a commit that moved alone), then the state
  // records they make, unsynced; the log compacted every 1,000 entries, as the driver does.
  const READY = 32, readies = Math.max(10, Math.floor(writes / 10));
  const members = [{ id: 0, addr: "127.0.0.1:1" }];
  const log = new RecordStorage<unknown>(s, bootstrapState(members, new Uint8Array(1)));
  const create = (index: number): Entry<unknown> => ({
    index, term: 1, type: "cmd",
    // As a KEY:CREATE's command: the material in base64, as commands carry it (state/commands.ts).
    cmd: { type: "key.create", enclave: "bench", name: `ready-${index}`, keyType: "AES256", material: encodeBase64(randomBytes(32)), addVersion: false, at: Date.now(), by: "x".repeat(64) },
  });
  let cpu = process.cpuUsage();
  for (let r = 0, next = 1; r < readies; r++) {
    const entries = Array.from({ length: READY }, () => create(next++));
    const compact = Math.floor((next - 1) / 1000) > Math.floor((next - 1 - READY) / 1000);
    await log.write({ hard: { term: 1, vote: 0, commit: next - 1 - READY, markers: [], edit: null }, truncateFrom: null, entries,
      snapshot: compact ? { index: next - 1 - READY, term: 1, members, data: new Uint8Array(18) } : null });
    await log.write({ hard: { term: 1, vote: 0, commit: next - 1, markers: [], edit: null }, truncateFrom: null, entries: [], snapshot: null });
    await s.write([...entries.map((e) => [`k/bench/ready-${e.index}`, value()] as const), ["m/applied", randomBytes(8)]], false);
  }
  const oursReady = cpuMs(process.cpuUsage(cpu)) / readies;
  // Its ceiling: the same rows, unsealed, through statements prepared once on a bare file.
  const raw = new Libsql(join(tmp, "bare.db"));
  const put = raw.prepare(upsert);
  const tx = (durable: boolean, rows: number) => {
    raw.exec(`PRAGMA synchronous=${durable ? "FULL" : "NORMAL"}`);
    raw.exec("BEGIN IMMEDIATE");
    for (let j = 0; j < rows; j++) put.run([randomBytes(32), randomBytes(360)]);
    raw.exec("COMMIT");
  };
  cpu = process.cpuUsage();
  for (let r = 0; r < readies; r++) {
    tx(true, READY + 1);
    tx(false, 1);
    tx(false, READY + 1);
  }
  const bareReady = cpuMs(process.cpuUsage(cpu)) / readies;
  raw.close();
  await s.close();
  bare.close();
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(`open + load of ${records} records: ${ms(median(opens))} (bare SELECT ${ms(median(bareReads))}, ratio ${(median(opens) / median(bareReads)).toFixed(1)}x)`);
  console.log(`write of 6 rows: p50 ${ms(pct(ours, 50))} p99 ${ms(pct(ours, 99))} (bare p50 ${ms(pct(ceiling, 50))} p99 ${ms(pct(ceiling, 99))}, p50 ratio ${(pct(ours, 50) / pct(ceiling, 50)).toFixed(2)}x)`);
  console.log(`a Ready of ${READY} creates (${readies} of them): ${ms(oursReady)} CPU, ${((oursReady * 1000) / READY).toFixed(0)} µs per create ` +
    `(bare prepared statements ${ms(bareReady)}, ratio ${(oursReady / bareReady).toFixed(2)}x)`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
