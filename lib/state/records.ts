import * as v from "valibot";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import type { Effect } from "./apply.ts";
import { NameSchema } from "./names.ts";
import { State } from "./state.ts";
import type { EnclaveRecord, KeyRing } from "./types.ts";

/**
 * How the state maps onto durable records: `e/<enclave>`, `k/<enclave>/<key>`
 * and `m/commit`; `n/…` records are node-local, not state. Names cannot
 * contain '/', so record keys are unambiguous.
 */
const COMMIT = "m/commit";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The record key and serialised value (null = delete) of one effect. */
export function recordOf(fx: Effect): readonly [string, Uint8Array | null] {
  if (fx.kind === "enclave") return [`e/${fx.name}`, fx.value ? json(fx.value) : null];
  const value = fx.value && {
    ...fx.value,
    versions: fx.value.versions.map((kv) => ({ ...kv, material: encodeBase64(kv.material) })),
  };
  return [`k/${fx.enclave}/${fx.name}`, value ? json(value) : null];
}

/** The records that make a set of effects durable, including the new commit number. */
export function recordsOf(effects: readonly Effect[], commit: number): Array<readonly [string, Uint8Array | null]> {
  return [...effects.map(recordOf), [COMMIT, json(commit)]];
}

const Stamp = { createdAt: v.number(), createdBy: v.string() };
const EnclaveSchema = v.object({ name: NameSchema, ...Stamp });
const KeyRingSchema = v.object({
  enclave: NameSchema,
  name: NameSchema,
  nextVersion: v.number(),
  versions: v.array(v.object({
    version: v.number(),
    type: v.picklist(["AES256", "ChaCha20"]),
    material: v.pipe(v.string(), v.base64()),
    ...Stamp,
  })),
});

/** Rebuilds the state from every stored record; throws on a record it cannot read. */
export function stateOf(records: Map<string, Uint8Array>): State {
  const state = new State();
  const rings: KeyRing[] = [];
  for (const [key, bytes] of records) {
    const value = JSON.parse(dec.decode(bytes));
    if (key === COMMIT) state.commit = v.parse(v.number(), value);
    else if (key.startsWith("e/")) {
      const record: EnclaveRecord = v.parse(EnclaveSchema, value);
      state.enclaves.set(record.name, { record, keys: new Map() });
    } else if (key.startsWith("k/")) {
      const r = v.parse(KeyRingSchema, value);
      rings.push({ ...r, versions: r.versions.map((kv) => ({ ...kv, material: decodeBase64(kv.material) })) });
    } else throw new Error(`unknown record kind in the data directory`);
  }
  for (const ring of rings) state.enclave(ring.enclave).keys.set(ring.name, ring);
  return state;
}

function json(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}
