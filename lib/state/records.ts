import * as v from "valibot";
import type { Effect } from "./apply.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { RulesSchema, TagsSchema } from "./commands.ts";
import { IdentitySchema, NameSchema } from "./names.ts";
import { enclaveEntry, State } from "./state.ts";
import type { KeyRing } from "./types.ts";

/**
 * How the state maps onto durable records: `e/<enclave>`, `k/<enclave>/<key>`,
 * `i/<enclave>/<identity>`, `p/<enclave>/<policy>`, `s/<setting>` and `m/…` counters; `n/…`
 * (node-local) and `r/…` (replication log) records are not state. Names and identities cannot contain '/',
 * so record keys are unambiguous.
 */
const COMMIT = "m/commit";
const APPLIED = "m/applied";
const MAX_NODE_ID = "m/max-node-id";
const PREFIX = { enclave: "e", key: "k", identity: "i", policy: "p" } as const;
const ADMIN_KEY = "s/admin-key";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The record key and serialised value (null = delete) of one effect. */
export function recordOf(fx: Effect): readonly [string, Uint8Array | null] {
  if (fx.kind === "setting") return [`s/${fx.name}`, json(fx.value)];
  const key = fx.kind === "enclave" ? `e/${fx.name}` : `${PREFIX[fx.kind]}/${fx.enclave}/${fx.name}`;
  if (!fx.value) return [key, null];
  if (fx.kind !== "key") return [key, json(fx.value)];
  return [key, json({ ...fx.value, versions: fx.value.versions.map((kv) => ({ ...kv, material: encodeBase64(kv.material) })) })];
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
    imported: v.optional(v.boolean()),
    ...Stamp,
  })),
});
const IdentityRecordSchema = v.object({
  enclave: NameSchema,
  identity: IdentitySchema,
  privilege: v.picklist(["SysAdmin", "Admin", "User"]),
  policy: v.string(),
  serviceAccount: v.boolean(),
  tags: TagsSchema,
  ...Stamp,
});
const PolicyRecordSchema = v.object({ enclave: NameSchema, name: NameSchema, allow: RulesSchema, deny: RulesSchema, ...Stamp });
const AdminKeySchema = v.object({ disabled: v.boolean(), changedAt: v.number(), changedBy: v.string() });

/** Rebuilds the state from every stored record; throws on a record it cannot read. */
export function stateOf(records: Map<string, Uint8Array>): State {
  const state = new State();
  const later: Array<() => void> = []; // enclave members, once every enclave exists
  for (const [key, bytes] of records) {
    if (key.startsWith("n/") || key.startsWith("r/")) continue;
    const value = JSON.parse(dec.decode(bytes));
    const kind = key.slice(0, 2);
    if (key === COMMIT) state.commit = v.parse(v.number(), value);
    else if (key === APPLIED) state.applied = v.parse(v.number(), value);
    else if (key === MAX_NODE_ID) state.maxNodeId = v.parse(v.number(), value);
    else if (key === ADMIN_KEY) state.adminKey = v.parse(AdminKeySchema, value);
    else if (kind === "e/") state.enclaves.set(value.name, enclaveEntry(v.parse(EnclaveSchema, value)));
    else if (kind === "k/") {
      const r = v.parse(KeyRingSchema, value);
      // Records from before `imported` existed: only version 1 could have been imported then.
      const versions = r.versions.map((kv) => ({ ...kv, material: decodeBase64(kv.material), imported: kv.imported ?? kv.version === 1 }));
      const ring: KeyRing = { ...r, versions };
      later.push(() => state.enclave(ring.enclave).keys.set(ring.name, ring));
    } else if (kind === "i/") {
      const r = v.parse(IdentityRecordSchema, value);
      later.push(() => state.enclave(r.enclave).identities.set(r.identity, r));
    } else if (kind === "p/") {
      const r = v.parse(PolicyRecordSchema, value);
      later.push(() => state.enclave(r.enclave).policies.set(r.name, r));
    } else throw new Error("unknown record kind in the data directory");
  }
  for (const add of later) add();
  return state;
}

/** The records of the counters that travel with the state. */
export function counterRecords(state: State): Array<readonly [string, Uint8Array]> {
  return [[COMMIT, json(state.commit)], [APPLIED, json(state.applied)], [MAX_NODE_ID, json(state.maxNodeId)]];
}

/** Every record of the whole state: what a snapshot carries. */
export function recordsOfState(state: State): Array<readonly [string, Uint8Array | null]> {
  const out: Array<readonly [string, Uint8Array | null]> = [...counterRecords(state)];
  if (state.adminKey.changedAt !== 0) out.push(recordOf({ kind: "setting", enclave: "", name: "admin-key", value: state.adminKey }));
  for (const [name, e] of state.enclaves) {
    out.push(recordOf({ kind: "enclave", enclave: name, name, value: e.record }));
    for (const [k, value] of e.keys) out.push(recordOf({ kind: "key", enclave: name, name: k, value }));
    for (const [k, value] of e.identities) out.push(recordOf({ kind: "identity", enclave: name, name: k, value }));
    for (const [k, value] of e.policies) out.push(recordOf({ kind: "policy", enclave: name, name: k, value }));
  }
  return out;
}

function json(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

/** A snapshot's bytes (what a joining or far-behind node receives): every state record, base64, as JSON. */
export function encodeSnapshot(state: State): Uint8Array {
  const records = recordsOfState(state).map(([k, value]) => [k, encodeBase64(value!)]);
  return new TextEncoder().encode(JSON.stringify(records));
}

/** The state records of a snapshot's bytes. */
export function decodeSnapshot(data: Uint8Array): Map<string, Uint8Array> {
  if (data.length === 0) return new Map();
  const rows = v.parse(v.array(v.tuple([v.string(), v.string()])), JSON.parse(new TextDecoder().decode(data)));
  return new Map(rows.map(([k, b]) => [k, decodeBase64(b)]));
}
