import * as v from "valibot";
import type { Effect } from "./apply.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { RulesSchema, TagsSchema } from "./commands.ts";
import { AccessKeyIdSchema, AliasSchema, KeyMetaSchema } from "./lifecycle.ts";
import { IdentitySchema, NameSchema } from "./names.ts";
import { KeyRings, type RingParser } from "./key-rings.ts";
import { COMPACT, compactRing, Creators, ringOfCompact } from "./ring-codec.ts";
import { enclaveEntry, State } from "./state.ts";
import type { DeletedItem, HsmKeyRecord, KeyRing } from "./types.ts";

/**
 * How the state maps onto durable records: `e/<enclave>`, `k/<enclave>/<key>`,
 * `i/<enclave>/<identity>`, `p/<enclave>/<policy>`, `a/<enclave>/<alias>`, `x/<enclave>/<access key id>`,
 * `s/<setting>`, `h/<HSM key fingerprint>`, `d/<deletion id>` (deleted, recoverable) and `m/…` counters; `n/…`
 * (node-local) and `r/…` (replication log) records are not state. Names and identities cannot contain '/',
 * so record keys are unambiguous.
 */
const COMMIT = "m/commit";
const APPLIED = "m/applied";
const MAX_NODE_ID = "m/max-node-id";
const PREFIX = { enclave: "e", key: "k", identity: "i", policy: "p", alias: "a", accessKey: "x" } as const;
const ADMIN_KEY = "s/admin-key";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A key ring as JSON: its material base64. */
const ringJson = (r: KeyRing) => ({ ...r, versions: r.versions.map((kv) => ({ ...kv, material: encodeBase64(kv.material) })) });

/** The record key and serialised value (null = delete) of one effect. */
export function recordOf(fx: Effect): readonly [string, Uint8Array | null] {
  if (fx.kind === "setting") return [`s/${fx.name}`, json(fx.value)];
  if (fx.kind === "hsm") {
    const h = fx.value;
    return [`h/${fx.name}`, h && json({ ...h, publicKey: encodeBase64(h.publicKey), join: { ca: encodeBase64(h.join.ca), rpc: encodeBase64(h.join.rpc) } })];
  }
  if (fx.kind === "deleted") {
    const d = fx.value;
    if (!d) return [`d/${fx.name}`, null];
    return [`d/${fx.name}`, json(d.kind === "key" ? { ...d, ring: ringJson(d.ring) } : { ...d, keys: d.keys.map(ringJson) })];
  }
  const key = fx.kind === "enclave" ? `e/${fx.name}` : `${PREFIX[fx.kind]}/${fx.enclave}/${fx.name}`;
  if (!fx.value) return [key, null];
  if (fx.kind !== "key") return [key, json(fx.value)];
  return [key, json(ringJson(fx.value))];
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
  lifecycle: v.optional(v.object({
    ...KeyMetaSchema.entries,
    state: v.picklist(["Enabled", "Disabled", "PendingDeletion"]),
    deletion: v.optional(v.object({ at: v.number(), windowDays: v.number() })),
    rotation: v.optional(v.object({ periodDays: v.number(), since: v.number() })),
    automatic: v.array(v.number()),
  })),
});
const AliasRecordSchema = v.object({ enclave: NameSchema, alias: AliasSchema, key: NameSchema, createdAt: v.number(), updatedAt: v.number() });
const AccessKeyRecordSchema = v.object({ enclave: NameSchema, id: AccessKeyIdSchema, identity: IdentitySchema, sealed: v.string(), ...Stamp });
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
const B64 = v.pipe(v.string(), v.base64());
const HsmKeySchema = v.object({ fingerprint: v.string(), publicKey: B64, join: v.object({ ca: B64, rpc: B64 }), ...Stamp });
const DeletionSchema = { id: v.number(), enclave: NameSchema, name: v.string(), deletedAt: v.number(), deletedBy: v.string(), purgeAt: v.number() };
const DeletedSchema = v.variant("kind", [
  v.object({ kind: v.literal("key"), ...DeletionSchema, ring: KeyRingSchema }),
  v.object({
    kind: v.literal("enclave"), ...DeletionSchema, record: EnclaveSchema, keys: v.array(KeyRingSchema),
    identities: v.array(IdentityRecordSchema), policies: v.array(PolicyRecordSchema),
  }),
]);

/** A key ring from its JSON record (`r` is valibot's fresh output, completed in place); `intern` shares repeated strings. */
function ringOf(r: v.InferOutput<typeof KeyRingSchema>, intern: (s: string) => string = (s) => s): KeyRing {
  const versions = r.versions as unknown as Array<Record<string, unknown>>;
  for (const kv of versions) {
    kv.material = decodeBase64(kv.material as string);
    // Records from before `imported` existed: only version 1 could have been imported then.
    kv.imported ??= kv.version === 1;
    kv.createdBy = intern(kv.createdBy as string);
    kv.type = intern(kv.type as string);
  }
  r.enclave = intern(r.enclave);
  return r as unknown as KeyRing;
}

/** Interns strings: a million keys made by one identity in one enclave then hold one copy of each name. */
function interner(): (s: string) => string {
  const seen = new Map<string, string>();
  return (s) => {
    const known = seen.get(s);
    if (known !== undefined) return known;
    seen.set(s, s);
    return s;
  };
}

function deletedOf(value: unknown): DeletedItem {
  const d = v.parse(DeletedSchema, value);
  return d.kind === "key" ? { ...d, ring: ringOf(d.ring) } : { ...d, keys: d.keys.map((k) => ringOf(k)) };
}

function hsmKeyOf(value: unknown): HsmKeyRecord {
  const h = v.parse(HsmKeySchema, value);
  return { ...h, publicKey: decodeBase64(h.publicKey), join: { ca: decodeBase64(h.join.ca), rpc: decodeBase64(h.join.rpc) } };
}

/**
 * Key rings held as their record's bytes, parsed on first use (key-rings.ts):
 * compact when the record is in kms's plain layout (ring-codec.ts), else its
 * JSON. A server's start hands it the `k/…` records as the store reads them
 * (OpenOptions.take), so they are never all held as records at once.
 */
export class RingTaker {
  readonly #rings = new Map<string, KeyRings>();
  readonly #parsers = new Map<string, RingParser>();
  readonly #creators = new Creators();
  readonly #intern = interner();
  /** Where a ring's compact form is written before the slab copies it (zeroed by into(): it held material). */
  readonly #scratch = new Uint8Array(1 << 16);

  /** Takes a key ring's record ("taken"); any other record is "kept"; "twice" when it holds that ring already. */
  take(key: string, bytes: Uint8Array): "taken" | "kept" | "twice" {
    if (key.charCodeAt(0) !== 107 || key.charCodeAt(1) !== 47) return "kept"; // "k/"
    const slash = key.indexOf("/", 2);
    const enclave = key.slice(2, slash), name = key.slice(slash + 1);
    let keys = this.#rings.get(enclave);
    if (!keys) {
      this.#rings.set(enclave, keys = new KeyRings());
      this.#parsers.set(enclave, ringParser(this.#intern(enclave), this.#intern, this.#creators));
    }
    const parse = this.#parsers.get(enclave)!;
    const n = compactRing(bytes, enclave, name, this.#creators, this.#scratch);
    const added = n > 0
      ? keys.addRecord(name, this.#scratch.subarray(0, n), false, parse)
      : keys.addRecord(name, bytes, mayHaveLifecycle(bytes), parse);
    return added ? "taken" : "twice";
  }

  /** Gives the rings taken to their enclaves in `state` (404 for an enclave it lacks). */
  into(state: State): void {
    this.#scratch.fill(0);
    for (const [enclave, keys] of this.#rings) state.enclaves.set(enclave, { ...state.enclave(enclave), keys });
    this.#rings.clear();
  }
}

/** How stateOf builds the state. */
export interface StateOfOptions {
  /**
   * Keep key rings as their record's bytes, parsed on first use (RingTaker):
   * a server's start, with the rings already taken from the store if given.
   * The records were decrypted and authenticated, so they are kms's own; a
   * ring this version cannot read then fails when first used.
   */
  readonly lazyRings?: boolean | RingTaker;
}

/** Rebuilds the state from every stored record; throws on a record it cannot read. */
export function stateOf(records: Map<string, Uint8Array>, opts: StateOfOptions = {}): State {
  const state = new State();
  const intern = interner();
  // Two passes: enclaves first, then what they hold (records come in no particular order).
  for (const [key, bytes] of records) {
    if (key.startsWith("n/") || key.startsWith("r/") || isMember(key)) continue;
    const value = JSON.parse(dec.decode(bytes));
    const kind = key.slice(0, 2);
    if (key === COMMIT) state.commit = v.parse(v.number(), value);
    else if (key === APPLIED) state.applied = v.parse(v.number(), value);
    else if (key === MAX_NODE_ID) state.maxNodeId = v.parse(v.number(), value);
    else if (key === ADMIN_KEY) state.adminKey = v.parse(AdminKeySchema, value);
    else if (kind === "e/") state.enclaves.set(value.name, enclaveEntry(v.parse(EnclaveSchema, value)));
    else if (kind === "h/") {
      const h = hsmKeyOf(value);
      state.hsmKeys.set(h.fingerprint, h);
    } else if (kind === "d/") {
      const d = deletedOf(value);
      state.deleted.set(d.id, d);
    } else throw new Error("unknown record kind in the data directory");
  }
  const taker = opts.lazyRings === true ? new RingTaker() : opts.lazyRings || undefined;
  for (const [key, bytes] of records) {
    if (!isMember(key)) continue;
    const kind = key.slice(0, 2);
    if (kind === "k/" && !taker) {
      const ring = ringOf(v.parse(KeyRingSchema, JSON.parse(dec.decode(bytes))), intern);
      state.enclave(ring.enclave).keys.set(ring.name, ring);
      continue;
    }
    if (kind === "k/") {
      // Key rings stay as their record's bytes until first used; the map's keys are unique, so never "twice".
      taker!.take(key, bytes);
      continue;
    }
    const value = JSON.parse(dec.decode(bytes));
    if (kind === "i/") {
      const r = v.parse(IdentityRecordSchema, value);
      state.enclave(r.enclave).identities.set(r.identity, r);
    } else if (kind === "p/") {
      const r = v.parse(PolicyRecordSchema, value);
      state.enclave(r.enclave).policies.set(r.name, r);
    } else if (kind === "a/") {
      const r = v.parse(AliasRecordSchema, value);
      state.enclave(r.enclave).aliases.set(r.alias, r);
    } else {
      const r = v.parse(AccessKeyRecordSchema, value);
      state.enclave(r.enclave).accessKeys.set(r.id, r);
    }
  }
  taker?.into(state);
  return state;
}

/** Reads the rings of `enclave` from their record bytes (compact or JSON), on first use; the error names no detail (it could quote key material). */
function ringParser(enclave: string, intern: (s: string) => string, creators: Creators): RingParser {
  return (name, bytes) => {
    if (bytes[0] === COMPACT) return ringOfCompact(bytes, enclave, name, creators);
    let ring: KeyRing | undefined;
    try {
      ring = ringOf(v.parse(KeyRingSchema, JSON.parse(dec.decode(bytes))), intern);
    } catch {
      // Not a ring: left undefined, refused below.
    }
    if (ring?.enclave !== enclave || ring.name !== name) throw new Error("a key record in the data directory cannot be read by this version of kms");
    return ring;
  };
}

const LIFECYCLE = enc.encode('"lifecycle":');
const ANCHOR = LIFECYCLE.indexOf(0x79); // 'y'

/**
 * Whether a ring's JSON record may hold a lifecycle (only a field of that name has the quoted name and colon; a
 * superset is harmless). A plain loop: a Buffer over the bytes reads their `.buffer`, which makes JavaScriptCore
 * give every held record an ArrayBuffer object of its own (11% of a start-up, and memory per key).
 */
function mayHaveLifecycle(bytes: Uint8Array): boolean {
  // Anchored on the pattern's 'y', a byte rarer in a ring's JSON than its quote.
  const n = LIFECYCLE.length;
  outer: for (let y = bytes.indexOf(LIFECYCLE[ANCHOR], ANCHOR); y !== -1; y = bytes.indexOf(LIFECYCLE[ANCHOR], y + 1)) {
    const start = y - ANCHOR;
    if (start + n > bytes.length) return false;
    for (let j = 0; j < n; j++) if (bytes[start + j] !== LIFECYCLE[j]) continue outer;
    return true;
  }
  return false;
}

/** Whether a record belongs to an enclave (its key, identity, policy, alias or access key). */
function isMember(key: string): boolean {
  const c = key.charCodeAt(0);
  // k i p a x, each followed by '/'
  return key.charCodeAt(1) === 47 && (c === 107 || c === 105 || c === 112 || c === 97 || c === 120);
}

/** The records of the counters that travel with the state. */
export function counterRecords(state: State): Array<readonly [string, Uint8Array]> {
  return [[COMMIT, json(state.commit)], [APPLIED, json(state.applied)], [MAX_NODE_ID, json(state.maxNodeId)]];
}

/** Every record of the whole state: what a snapshot carries. */
export function recordsOfState(state: State): Array<readonly [string, Uint8Array | null]> {
  return [...stateRecords(state)];
}

/** Every record of the whole state, one at a time (a backup encodes a large state in slices). */
export function* stateRecords(state: State): Generator<readonly [string, Uint8Array]> {
  yield* counterRecords(state);
  if (state.adminKey.changedAt !== 0) yield recordOf({ kind: "setting", enclave: "", name: "admin-key", value: state.adminKey }) as [string, Uint8Array];
  for (const [name, value] of state.hsmKeys) yield recordOf({ kind: "hsm", enclave: "", name, value }) as [string, Uint8Array];
  for (const [id, value] of state.deleted) yield recordOf({ kind: "deleted", enclave: "", name: String(id), value }) as [string, Uint8Array];
  for (const [name, e] of state.enclaves) {
    yield recordOf({ kind: "enclave", enclave: name, name, value: e.record }) as [string, Uint8Array];
    for (const [k, value] of e.keys) yield recordOf({ kind: "key", enclave: name, name: k, value }) as [string, Uint8Array];
    for (const [k, value] of e.identities) yield recordOf({ kind: "identity", enclave: name, name: k, value }) as [string, Uint8Array];
    for (const [k, value] of e.policies) yield recordOf({ kind: "policy", enclave: name, name: k, value }) as [string, Uint8Array];
    for (const [k, value] of e.aliases) yield recordOf({ kind: "alias", enclave: name, name: k, value }) as [string, Uint8Array];
    for (const [k, value] of e.accessKeys) yield recordOf({ kind: "accessKey", enclave: name, name: k, value }) as [string, Uint8Array];
  }
}

function json(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

/** A snapshot's bytes (what a joining or far-behind node receives): every state record, base64, as JSON. */
export function encodeSnapshot(state: State): Uint8Array {
  const records = recordsOfState(state).map(([k, value]) => [k, encodeBase64(value!)]);
  return new TextEncoder().encode(JSON.stringify(records));
}

/**
 * Snapshot bytes that stand for the state records themselves (a node's own
 * compactions, KmsNode.reference): not JSON, so never encodeSnapshot's bytes.
 */
export const STATE_REFERENCE = new TextEncoder().encode("@kms/state-records");

/** Whether snapshot bytes are STATE_REFERENCE. */
export function isStateReference(data: Uint8Array): boolean {
  return data.length === STATE_REFERENCE.length && data.every((b, i) => b === STATE_REFERENCE[i]);
}

/** The state records of a snapshot's bytes. */
export function decodeSnapshot(data: Uint8Array): Map<string, Uint8Array> {
  if (data.length === 0) return new Map();
  const rows = v.parse(v.array(v.tuple([v.string(), v.string()])), JSON.parse(new TextDecoder().decode(data)));
  return new Map(rows.map(([k, b]) => [k, decodeBase64(b)]));
}
