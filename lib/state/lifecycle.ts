/**
 * A key's lifecycle (issue 15): its state (Enabled, Disabled, PendingDeletion
 * with a deletion date), automatic rotation, tags and what it is for; and an
 * enclave's aliases and AWS access keys. Shared by every protocol: the AWS API
 * manages it, and every protocol refuses crypto with a key that is not enabled.
 *
 * PendingDeletion is not "deleted": the key stays visible and listed, refuses
 * crypto, and CancelKeyDeletion brings it back (Disabled). Once its deletion
 * date has passed, the leader proposes `key.purge` and the key is gone.
 */
import * as v from "valibot";
import { IdentitySchema, NameSchema } from "./names.ts";

/** One day in ms: deletion windows and rotation periods are whole days. */
export const DAY_MS = 86_400_000;

/** What AWS calls KeyState, for the states kms keys can be in. */
export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

/** What a key is for: encryption (AES256/ChaCha20 key rings) or MACs (AWS's HMAC keys). */
export type KeyUsage = "ENCRYPT_DECRYPT" | "GENERATE_VERIFY_MAC";
export const KEY_SPECS = ["SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

/** Key tags (AWS's TagKey/TagValue): at most 50, keys 1–128 and values 0–256 characters. */
export const KeyTagsSchema = v.pipe(
  v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(128)), v.pipe(v.string(), v.maxLength(256))),
  v.check((t) => Object.keys(t).length <= 50, "invalid tags: at most 50"),
);

/** What a key was made for, fixed at creation (AWS CreateKey). */
export const KeyMetaSchema = v.object({
  description: v.pipe(v.string(), v.maxLength(8192)),
  usage: v.picklist(["ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC"]),
  spec: v.picklist(KEY_SPECS),
  tags: KeyTagsSchema,
});
export type KeyMeta = v.InferOutput<typeof KeyMetaSchema>;

/** The lifecycle of a key ring; a ring without one is Enabled, for encryption, untagged, not rotating. */
export interface KeyLifecycle extends KeyMeta {
  readonly state: KeyState;
  /** While PendingDeletion: when the purge is due (ms) and the window it was scheduled with. */
  readonly deletion?: { readonly at: number; readonly windowDays: number };
  /** Automatic rotation: every `periodDays`, counted from `since` (when enabled, or the last automatic rotation). */
  readonly rotation?: { readonly periodDays: number; readonly since: number };
  /** Versions made by automatic rotation (the others after the first were made on demand). */
  readonly automatic: readonly number[];
}

/** The lifecycle of a ring made before lifecycles existed, or by the native protocol. */
export const DEFAULT_LIFECYCLE: KeyLifecycle = {
  state: "Enabled", description: "", usage: "ENCRYPT_DECRYPT", spec: "SYMMETRIC_DEFAULT", tags: {}, automatic: [],
};

/** A ring's lifecycle, defaults filled in. */
export function lifecycleOf(ring: { readonly lifecycle?: KeyLifecycle }): KeyLifecycle {
  return ring.lifecycle ?? DEFAULT_LIFECYCLE;
}

/** When automatic rotation is next due (ms), or undefined when it is off. */
export function nextRotation(lc: KeyLifecycle): number | undefined {
  return lc.rotation ? lc.rotation.since + lc.rotation.periodDays * DAY_MS : undefined;
}

/** Whether automatic rotation is due at `now` (only enabled keys rotate). */
export function rotationDue(lc: KeyLifecycle, now: number): boolean {
  const next = nextRotation(lc);
  return lc.state === "Enabled" && next !== undefined && next <= now;
}

/** Whether the deletion date of a PendingDeletion key has passed at `now`. */
export function purgeDue(lc: KeyLifecycle, now: number): boolean {
  return lc.state === "PendingDeletion" && lc.deletion !== undefined && lc.deletion.at <= now;
}

/** AWS alias names: `alias/` and 1–250 of [A-Za-z0-9/_:-]; `alias/aws/` is AWS's own. */
export const AliasSchema = v.pipe(
  v.string(),
  v.regex(/^alias\/[A-Za-z0-9/_:-]{1,250}$/, "invalid alias name: use alias/ followed by 1 to 250 of A-Z a-z 0-9 / _ - :"),
  v.check((a) => !a.startsWith("alias/aws/"), "invalid alias name: alias/aws/ is reserved"),
);

/** An alias: a second name for a key of the same enclave. */
export interface AliasRecord {
  readonly enclave: string;
  readonly alias: string;
  readonly key: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** An AWS access key id: 20 upper-case letters and digits (AWS's own form). */
export const AccessKeyIdSchema = v.pipe(v.string(), v.regex(/^[A-Z0-9]{16,128}$/, "invalid access key id"));

/** An access key: an AWS-style credential of an identity of the enclave; the secret is sealed (lib/server/access-keys.ts). */
export interface AccessKeyRecord {
  readonly enclave: string;
  readonly id: string;
  readonly identity: string;
  /** The secret access key, sealed; base64. */
  readonly sealed: string;
  readonly createdAt: number;
  readonly createdBy: string;
}

const Stamp = { at: v.pipe(v.number(), v.integer(), v.minValue(0)), by: v.string() };
const At = { at: v.pipe(v.number(), v.integer(), v.minValue(0)) };
const Key = { enclave: NameSchema, name: NameSchema };
const Base64Key = v.pipe(v.string(), v.base64(), v.length(44)); // 32 bytes

/** The lifecycle commands: each is deterministic, and those the leader proposes when due are conditional on the state. */
export const LIFECYCLE_COMMANDS = [
  /** Enabled ↔ Disabled. */
  v.object({ type: v.literal("key.set-state"), ...Key, enabled: v.boolean() }),
  /** → PendingDeletion, the purge due `windowDays` after `at`. */
  v.object({ type: v.literal("key.schedule-deletion"), ...Key, windowDays: v.pipe(v.number(), v.integer(), v.minValue(7), v.maxValue(30)), ...At }),
  /** PendingDeletion → Disabled. */
  v.object({ type: v.literal("key.cancel-deletion"), ...Key }),
  /** Deletes the key if it is still PendingDeletion and its date has passed at `at`; else nothing. */
  v.object({ type: v.literal("key.purge"), ...Key, ...At }),
  /** Automatic rotation on (periodDays > 0, counted from `at`) or off (0). */
  v.object({ type: v.literal("key.rotation"), ...Key, periodDays: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2560)), ...At }),
  /** A new version: on demand, or (`due`) only if automatic rotation is due at `at`, else nothing. */
  v.object({ type: v.literal("key.rotate"), ...Key, material: Base64Key, due: v.boolean(), ...Stamp }),
  v.object({ type: v.literal("key.tag"), ...Key, set: KeyTagsSchema, remove: v.pipe(v.array(v.pipe(v.string(), v.maxLength(128))), v.maxLength(50)) }),
  /** Creates (`create`) or repoints an alias. */
  v.object({ type: v.literal("alias.set"), enclave: NameSchema, alias: AliasSchema, key: NameSchema, create: v.boolean(), ...At }),
  v.object({ type: v.literal("alias.delete"), enclave: NameSchema, alias: AliasSchema }),
  v.object({ type: v.literal("access-key.create"), enclave: NameSchema, id: AccessKeyIdSchema, identity: IdentitySchema, sealed: v.pipe(v.string(), v.base64(), v.maxLength(256)), ...Stamp }),
  v.object({ type: v.literal("access-key.delete"), enclave: NameSchema, id: AccessKeyIdSchema }),
] as const;

/** The types of the lifecycle commands. */
export const LIFECYCLE_TYPES: ReadonlySet<string> = new Set(LIFECYCLE_COMMANDS.map((c) => c.entries.type.literal));

/** A lifecycle command. */
export type LifecycleCommand = v.InferOutput<(typeof LIFECYCLE_COMMANDS)[number]>;
