/**
 * GENERATE's key work in process, over one key and over every key of a seeded
 * directory at random: the lookup by name, the ring's first use (parse,
 * binding) and the encryption of a 32-byte DEK, as the native route does
 * them, without TLS, HTTP or a client sharing the cores. The ratio (CPU µs
 * per operation over one key ÷ over all keys) is the in-process bound of the
 * scale.generate row. Run on a directory seeded by bench/start-heap.ts:
 * bun bench/key-use.ts DIR [ops] (its HSM key is DIR.hsm). Bun only.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { encrypt } from "../lib/crypto/ciphertext.ts";
import { ringBinding } from "../lib/crypto/keyring.ts";
import { SoftHsm } from "../lib/hsm/soft.ts";
import { RingTaker, stateOf } from "../lib/state/records.ts";
import { openStore } from "../lib/store/store.ts";
import { ENCLAVE } from "./scenarios/generate.ts";

const dir = process.argv[2], ops = Number(process.argv[3] ?? 300_000);
if (!dir) {
  console.error("usage: bun bench/key-use.ts DIR [ops]  (DIR seeded by bun bench/start-heap.ts N --dir DIR)");
  process.exit(2);
}
const rings = new RingTaker();
const store = await openStore(dir, SoftHsm.parse(readFileSync(`${dir}.hsm`, "utf8")), { take: (k, v) => rings.take(k, v) });
const state = stateOf(await store.load(), { lazyRings: rings });
await store.close();
const names = [...state.enclave(ENCLAVE).keys.keys()];
const plaintext = new Uint8Array(32), none = new Uint8Array(0);

type KeyUse = (kv: { version: number; type: "AES256" | "ChaCha20"; material: Uint8Array }, binding: Uint8Array) => Uint8Array;
/** State.withKey where the sources have it (what lib/api/native/key.ts calls since branch i12k6), for pairs against a build without it. */
const withKey = (state as unknown as { withKey?: (e: string, n: string, v: number, use: KeyUse) => Uint8Array }).withKey?.bind(state);

/** One GENERATE's key work on `name`, as lib/api/native/key.ts does it (before withKey: the ring, then its binding). */
function generate(name: string): Uint8Array {
  const seal: KeyUse = (kv, binding) => encrypt(kv.type, kv.material, kv.version, plaintext, none, binding);
  if (withKey) return withKey(ENCLAVE, name, 0, seal);
  const ring = state.usableKey(ENCLAVE, name);
  return seal(ring.versions[ring.versions.length - 1], ringBinding(ring));
}

/**
 * Mean µs of this process's CPU per operation of `ops` operations on the
 * names `picks` holds: CPU time, not wall time, which on a shared machine
 * counts the time the process waited for a core.
 */
function time(picks: readonly string[]): number {
  const t = process.cpuUsage();
  for (let i = 0; i < ops; i++) generate(picks[i]);
  const used = process.cpuUsage(t);
  return (used.user + used.system) / ops;
}

// The names picked beforehand, so that picking costs the same in both loops.
const random = Array.from({ length: ops }, () => names[Math.floor(Math.random() * names.length)]);
const same = new Array<string>(ops).fill(names[0]);
let best = [Infinity, Infinity];
for (let round = 1; round <= 5; round++) {
  const one = time(same), all = time(random);
  best = [Math.min(best[0], one), Math.min(best[1], all)];
  console.log(`round ${round}: ${names.length.toLocaleString("en")} keys; one key ${one.toFixed(2)} µs/op, every key at random ${all.toFixed(2)} µs/op (CPU); ratio ${(one / all).toFixed(3)}`);
}
console.log(`best of 5: one key ${best[0].toFixed(2)} µs/op, every key at random ${best[1].toFixed(2)} µs/op; ratio ${(best[0] / best[1]).toFixed(3)}`);
