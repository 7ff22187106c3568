/**
 * Crypto ceiling: how fast one process can generate data keys with our API,
 * against raw AES-256-GCM on the same input size (the physical ceiling).
 * Run: node_modules/.bin/bun bench/crypto.ts
 */
import { createCipheriv, randomFillSync } from "node:crypto";
import { encrypt, keyBinding } from "../lib/crypto/ciphertext.ts";
import { randomBytes } from "../lib/crypto/random.ts";

// Checked in batches so reading the clock does not dominate tiny operations.
const BATCH = 256;

// Runs op repeatedly for about `seconds` and returns operations per second.
function rate(seconds: number, op: () => unknown): number {
  // Warm up so the JIT has compiled the hot path before timing starts.
  for (let i = 0; i < 2000; i++) op();
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let ops = 0;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < BATCH; i++) op();
    ops += BATCH;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

/** Measures full DEK generation (randomBytes(32) + v2 AES256 encrypt) and raw AES-256-GCM on 32 bytes, `seconds` each. */
export async function cryptoCeiling(seconds: number): Promise<{ generatePerSec: number; rawAesGcmPerSec: number }> {
  const master = randomFillSync(new Uint8Array(32));
  const associatedData = new TextEncoder().encode("enclave-0000/my-key-0000000001"); // 30 bytes
  const binding = keyBinding("enclave-0000", "my-key-0000000001");
  let sink = 0; // keeps results observably used
  const generatePerSec = rate(seconds, () => {
    const dek = randomBytes(32);
    sink ^= encrypt("AES256", master, 1, dek, associatedData, binding)[60];
  });
  const key = randomFillSync(new Uint8Array(32));
  const nonce = randomFillSync(new Uint8Array(12));
  const plaintext = randomFillSync(new Uint8Array(32));
  const rawAesGcmPerSec = rate(seconds, () => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    sink ^= c.update(plaintext)[0] ^ c.final().length ^ c.getAuthTag()[0];
  });
  if (sink === -1) console.log(sink);
  return { generatePerSec, rawAesGcmPerSec };
}

if (import.meta.main) {
  const { generatePerSec, rawAesGcmPerSec } = await cryptoCeiling(3);
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);
  console.log(`generate (randomBytes + encrypt AES256): ${fmt(generatePerSec)} ops/s`);
  console.log(`raw AES-256-GCM, 32 bytes, fixed key:    ${fmt(rawAesGcmPerSec)} ops/s`);
  console.log(`ratio generate / raw:                    ${(generatePerSec / rawAesGcmPerSec).toFixed(3)}`);
}
