import * as v from "valibot";
import { KeyMetaSchema, LIFECYCLE_COMMANDS } from "./lifecycle.ts";
import { IdentitySchema, NameSchema, PatternSchema } from "./names.ts";

const Base64Key = v.pipe(v.string(), v.base64(), v.length(44)); // 32 bytes
const KeyTypeSchema = v.picklist(["AES256", "ChaCha20"]);
const Stamp = { at: v.pipe(v.number(), v.integer(), v.minValue(0)), by: v.string() };
const Time = v.pipe(v.number(), v.integer(), v.minValue(0));
/**
 * A deletion kept for recovery: when and by whom, and when it may be purged.
 * Absent (older commands, or a recovery window of 0): the deletion is final at once.
 */
const Keep = { at: v.optional(Time), by: v.optional(v.string()), keepUntil: v.optional(Time) };
/** An HSM key's fingerprint (lib/hsm/keys.ts). */
export const FingerprintSchema = v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, "invalid HSM key fingerprint: 16 hex digits"));

const Privilege = v.picklist(["SysAdmin", "Admin", "User"]);
/** Command name → name patterns, bounded so one policy cannot exhaust memory. */
export const RulesSchema = v.pipe(
  v.record(v.pipe(v.string(), v.regex(/^[A-Z]+:[A-Z]+$/, "invalid policy: command names look like KEY:GENERATE")), v.pipe(v.array(PatternSchema), v.maxLength(256))),
  v.check((r) => Object.keys(r).length <= 64, "invalid policy: at most 64 commands"),
);
/** Identity tags: a few short string pairs. */
export const TagsSchema = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(128)), v.pipe(v.string(), v.maxLength(1024))),
  v.check((t) => Object.keys(t).length <= 64, "invalid tags: at most 64"),
);

/**
 * A state change. Commands carry everything apply() needs — timestamps,
 * fresh key material — so applying one is deterministic on every node.
 */
export const CommandSchema = v.variant("type", [
  v.object({ type: v.literal("enclave.create"), name: NameSchema, ...Stamp }),
  v.object({ type: v.literal("enclave.delete"), name: NameSchema, ...Keep }),
  v.object({
    type: v.literal("key.create"),
    enclave: NameSchema,
    name: NameSchema,
    keyType: KeyTypeSchema,
    material: Base64Key,
    addVersion: v.boolean(),
    /** Bytes the caller supplied (KEY:IMPORT) rather than the server generated. */
    imported: v.optional(v.boolean()),
    /** What the key is for (AWS CreateKey); a new key only. */
    meta: v.optional(KeyMetaSchema),
    ...Stamp,
  }),
  v.object({
    type: v.literal("key.delete"),
    enclave: NameSchema,
    name: NameSchema,
    version: v.pipe(v.number(), v.integer(), v.minValue(0)),
    allVersions: v.boolean(),
    ...Keep,
  }),
  /** Brings back every deleted version of a key still in its recovery window. */
  v.object({ type: v.literal("key.undelete"), enclave: NameSchema, name: NameSchema }),
  /** Brings back a deleted enclave with everything it held. */
  v.object({ type: v.literal("enclave.undelete"), name: NameSchema }),
  /** Drops deleted things whose window has passed by `at` (the leader's clock, carried so every node purges the same). */
  v.object({ type: v.literal("deleted.purge"), ids: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1))), v.maxLength(1000)), at: Time }),
  /** Configures another HSM key: every node seals its root key for it too. */
  v.object({ type: v.literal("hsm.add"), fingerprint: FingerprintSchema, publicKey: Base64Key, joinCa: Base64Key, joinRpc: Base64Key, ...Stamp }),
  v.object({ type: v.literal("hsm.remove"), fingerprint: FingerprintSchema }),
  v.object({
    type: v.literal("identity.create"),
    enclave: NameSchema,
    identity: IdentitySchema,
    privilege: Privilege,
    policy: v.union([v.literal(""), NameSchema]),
    serviceAccount: v.boolean(),
    tags: TagsSchema,
    ...Stamp,
  }),
  v.object({ type: v.literal("identity.delete"), enclave: NameSchema, identity: IdentitySchema }),
  v.object({ type: v.literal("policy.create"), enclave: NameSchema, name: NameSchema, allow: RulesSchema, deny: RulesSchema, ...Stamp }),
  v.object({ type: v.literal("policy.delete"), enclave: NameSchema, name: NameSchema }),
  v.object({ type: v.literal("policy.assign"), enclave: NameSchema, identity: IdentitySchema, policy: NameSchema }),
  /** Disables or re-enables the cluster's admin API key; `at` orders re-enable proofs (see lib/server/admin-key.ts). */
  v.object({ type: v.literal("admin-key.set"), enabled: v.boolean(), ...Stamp }),
  ...LIFECYCLE_COMMANDS,
]);

/** A validated state change. */
export type Command = v.InferOutput<typeof CommandSchema>;
