/**
 * In-process ceilings, one thread, no network: what the server's own work
 * costs when nothing else is in the way (crypto per CPU-second of the thread).
 *   crypto  a whole DEK generation with kms's crypto (32 random bytes, then
 *           lib/crypto's v1 encrypt: per-message key + AES-256-GCM over
 *           node:crypto), beside raw AES-256-GCM on 32 bytes (the physical floor)
 *   commit  durable one-record transactions through lib/store, one after the
 *           other: what a write costs the disk when nothing is batched
 */
import { createCipheriv, randomFillSync } from "node:crypto";
import { encrypt, keyBinding } from "../../lib/crypto/ciphertext.ts";
import { randomBytes } from "../../lib/crypto/random.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { openStore } from "../../lib/store/store.ts";
import { mainThreadCpuSeconds } from "./proc.ts";

// Checked in batches so reading the clock does not dominate tiny operations.
const BATCH = 256;

/**
 * Runs op repeatedly for about `seconds` after a warm-up. Returns operations
 * per CPU-second of this thread: on a shared machine the thread does not get
 * a whole core, and the figures it is compared with are per CPU-second too
 * (wall-clock operations per second when /proc cannot tell).
 */
function rate(seconds: number, op: () => unknown): number {
  for (let i = 0; i < 2000; i++) op(); // let the JIT compile the hot path first
  const start = performance.now(), cpu0 = mainThreadCpuSeconds();
  const deadline = start + seconds * 1000;
  let ops = 0;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < BATCH; i++) op();
    ops += BATCH;
    now = performance.now();
  }
  const cpu = mainThreadCpuSeconds() - cpu0;
  return ops / (cpu > 0 ? cpu : (now - start) / 1000);
}

/** Operations per CPU-second of one thread: the in-process crypto ceiling. */
export interface CryptoCeiling {
  readonly generatePerCpuSec: number;
  readonly rawAesGcmPerCpuSec: number;
}

/** DEK generations per CPU-second with kms's crypto, and raw AES-256-GCM on 32 bytes, `seconds` each. */
export function cryptoCeiling(seconds: number): CryptoCeiling {
  const master = randomFillSync(new Uint8Array(32));
  // The associated data the load generator sends (60 bytes).
  const associatedData = new TextEncoder().encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));
  const binding = keyBinding("enclave-0000", "my-key-0000000001");
  let sink = 0; // keeps results observably used
  const generatePerCpuSec = rate(seconds, () => {
    const dek = randomBytes(32);
    sink ^= encrypt("AES256", master, 1, dek, associatedData, binding)[60];
  });
  const key = randomFillSync(new Uint8Array(32));
  const nonce = randomFillSync(new Uint8Array(12));
  const plaintext = randomFillSync(new Uint8Array(32));
  const rawAesGcmPerCpuSec = rate(seconds, () => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    sink ^= c.update(plaintext)[0] ^ c.final().length ^ c.getAuthTag()[0];
  });
  if (sink === -1) console.log(sink);
  return { generatePerCpuSec, rawAesGcmPerCpuSec };
}

/** Sequential durable one-record writes per second through lib/store in a fresh data directory. */
export async function commitCeiling(dir: string, seconds: number): Promise<number> {
  const store = await openStore(dir, SoftHsm.parse(SoftHsm.generate()));
  try {
    const value = randomFillSync(new Uint8Array(200)); // about a key record's size
    for (let i = 0; i < 20; i++) await store.write([[`bench/warm-${i}`, value]]);
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < seconds * 1000) await store.write([[`bench/key-${n++}`, value]]);
    return n / ((performance.now() - start) / 1000);
  } finally {
    await store.close();
  }
}
