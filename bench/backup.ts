/**
 * Backup and restore of a large state, and what a running backup costs the
 * crypto path. A data directory of N keys (default 100,000) is written
 * directly (seeding through the API would take an hour), a real server is
 * started on it, and the run prints:
 *   - backup (GET /v1/db, plain and ?gzip) and restore (PUT /v1/db onto a
 *     fresh server) in MB/s and keys/s, each beside its ceiling measured in
 *     the same run: copying the directory's kms.db file (the bytes on disk);
 *   - pipelined GENERATE throughput while backups run back to back ÷ the
 *     same load with none, measured in alternating turns.
 * Run: bun bench/backup.ts [keys] [seconds per turn]
 */
import { copyFileSync, createWriteStream, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { streamRequest } from "../lib/client/stream.ts";
import { SoftHsm } from "../lib/hsm/soft.ts";
import { apply } from "../lib/state/apply.ts";
import { recordsOfState } from "../lib/state/records.ts";
import { State } from "../lib/state/state.ts";
import { encodeCredentials, newCredentials } from "../lib/node/credentials.ts";
import { CA_FILE } from "../lib/server/tls.ts";
import { openStore } from "../lib/store/store.ts";
import { combine, runLoad } from "./support/load.ts";
import { keyName } from "./support/loads.ts";
import { Fleet, type KmsProcess } from "./support/servers.ts";

const KEYS = Number(process.argv[2] ?? 100_000);
const SECONDS = Number(process.argv[3] ?? 4);
const ENCLAVE = "bench";
const fleet = new Fleet();
const mb = (bytes: number, s: number) => (bytes / 1e6 / s).toFixed(2);

/** A data directory holding one enclave with `keys` keys, written through the store as a server would have. */
async function seed(dir: string, hsmKey: string, keys: number): Promise<void> {
  const store = await openStore(dir, SoftHsm.parse(hsmKey), { extra: () => encodeCredentials(newCredentials()) });
  const state = new State();
  apply(state, { type: "enclave.create", name: ENCLAVE, at: Date.now(), by: "h1:bench" });
  for (let i = 0; i < keys; i++) {
    const material = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    apply(state, { type: "key.create", enclave: ENCLAVE, name: keyName("key-", i), keyType: "AES256", material, addVersion: false, at: Date.now(), by: "h1:bench" });
  }
  const records = recordsOfState(state) as Array<readonly [string, Uint8Array]>;
  for (let i = 0; i < records.length; i += 10_000) await store.write(records.slice(i, i + 10_000));
  await store.close();
}

const opts = (s: KmsProcess) => ({ servers: [s.address], apiKey: s.apiKey, ca: readFileSync(path.join(s.dir, CA_FILE), "utf8") });

/** One backup to `file`; its seconds and bytes. */
async function backup(s: KmsProcess, file: string, gzip: boolean): Promise<{ seconds: number; bytes: number }> {
  const t0 = performance.now();
  const reply = await streamRequest(opts(s), s.address, "GET", `/v1/db${gzip ? "?gzip" : ""}`);
  await pipeline(reply, createWriteStream(file));
  return { seconds: (performance.now() - t0) / 1000, bytes: statSync(file).size };
}

/** The ceiling: copying the data directory's database file. */
function copyCeiling(dir: string, to: string): number {
  const t0 = performance.now();
  copyFileSync(path.join(dir, "kms.db"), to);
  return (performance.now() - t0) / 1000;
}

try {
  const hsmKey = SoftHsm.generate();
  const dir = path.join(fleet.tempDir(), "data");
  const t0 = performance.now();
  await seed(dir, hsmKey, KEYS);
  console.log(`seeded ${KEYS} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s; kms.db ${(statSync(path.join(dir, "kms.db")).size / 1e6).toFixed(1)} MB`);
  const server = await fleet.startKms({ dir, hsmKey });
  const work = fleet.tempDir();
  const copied = copyCeiling(dir, path.join(work, "copy.db"));
  const dbBytes = statSync(path.join(dir, "kms.db")).size;
  console.log(`ceiling: copying kms.db: ${copied.toFixed(2)} s, ${mb(dbBytes, copied)} MB/s, ${(KEYS / copied).toFixed(0)} keys/s`);
  for (const gzip of [false, true]) {
    const file = path.join(work, `b-${gzip}.backup`);
    const b = await backup(server, file, gzip);
    console.log(`backup${gzip ? " ?gzip" : ""}: ${b.seconds.toFixed(2)} s, ${(b.bytes / 1e6).toFixed(1)} MB, ${mb(b.bytes, b.seconds)} MB/s, ` +
      `${(KEYS / b.seconds).toFixed(0)} keys/s; ÷ the copy ceiling: ${(copied / b.seconds).toFixed(3)} (keys/s)`);
    const fresh = await fleet.startKms({ hsmKey });
    const r0 = performance.now();
    const size = statSync(file).size;
    const reply = await streamRequest(opts(fresh), fresh.address, "PUT", "/v1/db", createReadStream(file), { "content-length": String(size) }, { replyMs: 15 * 60_000 });
    for await (const _ of reply) { /* the JSON answer */ }
    const rs = (performance.now() - r0) / 1000;
    console.log(`restore${gzip ? " ?gzip" : ""}: ${rs.toFixed(2)} s, ${mb(size, rs)} MB/s, ${(KEYS / rs).toFixed(0)} keys/s; ÷ the copy ceiling: ${(copied / rs).toFixed(3)} (keys/s)`);
    await fresh.stop();
  }
  // GENERATE with and without a backup running, in alternating turns.
  const load = { kind: "generate" as const, enclave: ENCLAVE, prefix: "key-", keys: KEYS, frames: 1000 };
  const run = (seconds: number) => runLoad({ address: server.address, ca: opts(server).ca, apiKey: server.apiKey, serverPids: [server.pid], load, connections: 4, workers: 2, seconds, opsPerRequest: 1000 });
  await run(1); // warm-up
  const without = [], during = [];
  for (let turn = 0; turn < 3; turn++) {
    without.push(await run(SECONDS / 3));
    let backups = 0, running = true;
    const loop = (async () => {
      while (running) {
        await backup(server, path.join(work, "loop.backup"), false);
        backups++;
      }
    })();
    during.push(await run(SECONDS / 3));
    running = false;
    await loop;
    console.log(`  turn ${turn + 1}: ${backups} backup(s) ran during the GENERATE load`);
  }
  const a = combine(without), d = combine(during);
  console.log(`GENERATE (1000 frames/request, 4 connections): ${a.opsPerSec.toFixed(0)} ops/s alone, ${d.opsPerSec.toFixed(0)} ops/s with backups running back to back; ` +
    `ratio ${(d.opsPerSec / a.opsPerSec).toFixed(3)} (errors: ${a.errors + d.errors})`);
  await server.stop();
} finally {
  await fleet.cleanup();
}
