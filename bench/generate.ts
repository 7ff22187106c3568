/**
 * GENERATE throughput over the native protocol against a real server process,
 * one operation per request and 1,000 frames per request, as ratios to the
 * same crypto run in-process (the ceiling). Run: bun bench/generate.ts [seconds]
 */
import { type Call, KmsClient } from "../lib/client/client.ts";
import { cleanup, startServer } from "../tests/helpers/kms.ts";
import { cryptoCeiling } from "./crypto.ts";

const seconds = Number(process.argv[2] ?? 5);
const AD = new TextEncoder().encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));

/** Runs `inFlight` loops of `op` for the given time; returns operations per second. */
async function measure(inFlight: number, opsPerCall: number, op: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await op();
      calls++;
    }
  }));
  return (calls * opsPerCall) / ((performance.now() - start) / 1000);
}

const server = await startServer({ binary: process.env.KMS_BINARY });
try {
  const admin: KmsClient = server.client();
  await admin.createEnclave("bench");
  await admin.createKey("bench", "minio-key");
  const one: Call = { id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse", message: { name: "minio-key", associated_data: AD, length: 32 } };
  const batch = Array.from({ length: 1000 }, () => one);
  await admin.batch("bench", batch); // warm up connections and JIT

  const single = await measure(64, 1, () => admin.call("bench", one));
  const pipelined = await measure(4, 1000, () => admin.batch("bench", batch));
  const ceiling = await cryptoCeiling(seconds);

  const fmt = (n: number) => `${Math.round(n).toLocaleString("en-US")} ops/s`;
  console.log(`GENERATE over the native protocol (${process.env.KMS_BINARY ?? "sources"}, ${seconds} s each, one run)`);
  console.log(`  in-process ceiling (same crypto)  ${fmt(ceiling.generatePerSec)}`);
  console.log(`  1 op per request, 64 in flight    ${fmt(single)}   ratio ${(single / ceiling.generatePerSec).toFixed(3)}`);
  console.log(`  1,000 frames per request, 4 in flight ${fmt(pipelined)}   ratio ${(pipelined / ceiling.generatePerSec).toFixed(3)}`);
  console.log(`  pipelining speed-up               ${(pipelined / single).toFixed(1)}x`);
} finally {
  await cleanup();
}
process.exit(0);
