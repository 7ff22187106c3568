/**
 * GENERATE's key work in process, over one key and over every key of a seeded
 * directory at random: the lookup by name, the ring's first use (parse,
 * binding) and the encryption of a 32-byte DEK, as the native route does
 * them, without TLS, HTTP or a client sharing the cores. The ratio (µs per
 * operation over one key ÷ over all keys) is the in-process bound of the
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

/** Mean µs per operation of `ops` operations on the names `pick` gives. */
function time(pick: (i: number) => string): number {
  const t = performance.now();
  for (let i = 0; i < ops; i++) generate(pick(i));
  return ((performance.now() - t) * 1000) / ops;
}

const random = () => names[Math.floor(Math.random() * names.length)];
for (let round = 1; round <= 3; round++) {
  const one = time(() => names[0]), all = time(random);
  console.log(`round ${round}: ${names.length.toLocaleString("en")} keys; one key ${one.toFixed(2)} µs/op, every key at random ${all.toFixed(2)} µs/op; ratio ${(one / all).toFixed(3)}`);
}
