/**
 * How AWS names map onto kms's: a key's KeyId is its kms name in the region's
 * enclave (CreateKey names new keys with a fresh UUID; keys made over the
 * native or KES protocol are addressable by their names too); its ARN is
 * `arn:aws:kms:<region>:<account>:key/<name>`, where the region is the
 * enclave's name and the account the cluster's. Aliases are `alias/…` names
 * in the enclave. Also the KeyMetadata of a key, and list markers.
 */
import { createHash } from "node:crypto";
import * as v from "valibot";
import { Obj } from "../../node/pending.ts";
import { Errors } from "../../state/errors.ts";
import { DEFAULT_LIFECYCLE, type KeyLifecycle } from "../../state/lifecycle.ts";
import { nameProblem } from "../../state/names.ts";
import type { KeyRing } from "../../state/types.ts";
import { Aws } from "./errors.ts";
import type { AwsContext } from "./operation.ts";

/** The cluster's AWS account id: 12 digits derived from its id (the same on every node). */
export function accountOf(cluster: string): string {
  const n = BigInt("0x" + createHash("sha256").update(`kms/aws-account:${cluster}`).digest("hex").slice(0, 16));
  return (n % 10n ** 12n).toString().padStart(12, "0");
}

/** The ARN of key `name`. */
export function keyArn(ctx: AwsContext, name: string): string {
  return `arn:aws:kms:${ctx.region}:${ctx.account}:key/${name}`;
}

/** The ARN of an alias (`alias/…`). */
export function aliasArn(ctx: AwsContext, alias: string): string {
  return `arn:aws:kms:${ctx.region}:${ctx.account}:${alias}`;
}

/** A KeyId as given: a key (by name), or an alias to resolve. */
export type KeyRef = { readonly key: string } | { readonly alias: string };

const ARN = /^arn:aws:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/;

/**
 * Parses a KeyId: a key id, a key ARN, and with `aliases` also `alias/…` or
 * an alias ARN. An ARN of another region or account names nothing here.
 */
export function parseKeyId(ctx: AwsContext, keyId: string, aliases: boolean): KeyRef {
  const arn = ARN.exec(keyId);
  if (keyId.startsWith("arn:") && !arn) throw Aws.invalidArn(`invalid ARN: ${keyId}`);
  const [kind, rest] = arn ? [arn[3], arn[4]] : keyId.startsWith("alias/") ? ["alias", keyId.slice(6)] : ["key", keyId];
  if (arn && (arn[1] !== ctx.region || arn[2] !== ctx.account)) throw Aws.notFound(`${keyId} is not in this region and account`);
  if (kind === "alias") {
    if (!aliases) throw Aws.notFound(`Invalid keyId ${keyId}: use a key id or key ARN here`);
    return { alias: `alias/${rest}` };
  }
  if (nameProblem(rest)) throw Aws.notFound(`Invalid keyId ${keyId}`);
  return { key: rest };
}

/**
 * The key name a KeyId refers to. An alias that does not exist is 404 only to
 * callers who could use some key with `command`, so a caller who may do
 * nothing learns nothing.
 */
export async function resolveKey(ctx: AwsContext, keyId: string, command: string, aliases = true): Promise<string> {
  const ref = parseKeyId(ctx, keyId, aliases);
  if ("key" in ref) return ref.key;
  await ctx.barrier([Obj.aliases(ctx.enclave)]);
  const target = ctx.node.state.enclave(ctx.enclave).aliases.get(ref.alias)?.key;
  if (target === undefined) {
    ctx.authorize(command);
    throw Aws.notFound(`Alias ${aliasArn(ctx, ref.alias)} is not found.`);
  }
  return target;
}

/** Authorises `command` on key `name` and waits for pending writes to it; then returns the ring (404 when there is none). */
export async function readKey(ctx: AwsContext, name: string, command: string): Promise<KeyRing> {
  ctx.authorize(command, name);
  await ctx.barrier([Obj.key(ctx.enclave, name)]);
  const ring = ctx.node.state.enclave(ctx.enclave).keys.get(name);
  if (!ring) throw Aws.notFound(`Key '${keyArn(ctx, name)}' does not exist`);
  return ring;
}

/** Seconds since the epoch, as AWS's JSON timestamps are. */
export const seconds = (ms: number) => ms / 1000;

/** A ring's lifecycle, defaults filled in. */
export const lifecycle = (ring: KeyRing): KeyLifecycle => ring.lifecycle ?? DEFAULT_LIFECYCLE;

/** The AWS MAC algorithm of each HMAC key spec. */
export const MAC_ALGORITHM: Readonly<Record<string, string>> = {
  HMAC_224: "HMAC_SHA_224", HMAC_256: "HMAC_SHA_256", HMAC_384: "HMAC_SHA_384", HMAC_512: "HMAC_SHA_512",
};

/** DescribeKey's KeyMetadata of a ring. */
export function keyMetadata(ctx: AwsContext, ring: KeyRing): Record<string, unknown> {
  const lc = lifecycle(ring);
  const mac = lc.usage === "GENERATE_VERIFY_MAC";
  return {
    AWSAccountId: ctx.account,
    KeyId: ring.name,
    Arn: keyArn(ctx, ring.name),
    CreationDate: seconds(ring.versions[0]?.createdAt ?? 0),
    Enabled: lc.state === "Enabled",
    Description: lc.description,
    KeyUsage: lc.usage,
    KeyState: lc.state,
    ...(lc.deletion ? { DeletionDate: seconds(lc.deletion.at), PendingDeletionWindowInDays: lc.deletion.windowDays } : {}),
    Origin: ring.versions[0]?.imported ? "EXTERNAL" : "AWS_KMS",
    KeyManager: "CUSTOMER",
    CustomerMasterKeySpec: lc.spec,
    KeySpec: lc.spec,
    ...(mac ? { MacAlgorithms: [MAC_ALGORITHM[lc.spec]] } : { EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"] }),
    MultiRegion: false,
  };
}

/** A list marker: the name (or number) the next page starts at, opaque to clients. */
export function marker(next: string): string {
  return Buffer.from(`kms:${next}`).toString("base64url");
}

/** The start of the page a marker names ("" for the first); InvalidMarkerException when it is not ours. */
export function fromMarker(m: string | undefined): string {
  if (m === undefined) return "";
  const text = Buffer.from(m, "base64url").toString();
  if (!text.startsWith("kms:") || marker(text.slice(4)) !== m) throw Errors.invalidMarker();
  return text.slice(4);
}

/** Limit 1–1000 (AWS's default 100) and Marker, as every List* takes them. */
export const Paging = {
  Limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, "Limit must be at least 1"), v.maxValue(1000, "Limit must be at most 1000")), 100),
  Marker: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
};

/** One page of sorted `items` from `start`: the page, and the marker of the next when truncated. */
export function pageOf<T>(items: readonly T[], keyOf: (t: T) => string, start: string, limit: number) {
  const from = items.filter((t) => keyOf(t) >= start);
  const page = from.slice(0, limit);
  const truncated = from.length > limit;
  return { page, truncated, ...(truncated ? { NextMarker: marker(keyOf(from[limit])) } : {}) };
}
