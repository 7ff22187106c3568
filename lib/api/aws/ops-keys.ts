/** AWS KMS's key management: create, describe, list, enable/disable, deletion, rotation and tags. */
import { randomUUID } from "node:crypto";
import * as v from "valibot";
import { randomBytes } from "../../crypto/random.ts";
import { Obj } from "../../node/pending.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors } from "../../state/errors.ts";
import { type KeySpec, type KeyUsage, nextRotation } from "../../state/lifecycle.ts";
import { listable } from "../../state/policy.ts";
import { ACTIONS } from "./actions.ts";
import { Aws } from "./errors.ts";
import { fromMarker, keyArn, keyMetadata, lifecycle, pageOf, Paging, readKey, resolveKey, seconds } from "./keys.ts";
import { type AwsContext, operation } from "./operation.ts";
import { KeyId, TagList } from "./schemas.ts";

/** The ring of a key named by id or ARN (lifecycle operations take no aliases), authorised for `command`. */
async function keyById(ctx: AwsContext, keyId: string, command: string) {
  return readKey(ctx, await resolveKey(ctx, keyId, command, false), command);
}

/** Tags as a record; AWS reserves the aws: prefix. */
function tagRecord(tags: readonly { TagKey: string; TagValue: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith("aws:")) throw Errors.invalidTag("Tags beginning with aws: are reserved");
    out[t.TagKey] = t.TagValue;
  }
  return out;
}

const KEY_SPECS = ["SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"];

/** The key operations. */
export const keyOperations = [
  operation({
    name: "CreateKey",
    schema: v.object({
      Description: v.optional(v.pipe(v.string(), v.maxLength(8192)), ""),
      KeyUsage: v.optional(v.string(), "ENCRYPT_DECRYPT"),
      KeySpec: v.optional(v.string()),
      CustomerMasterKeySpec: v.optional(v.string()),
      Origin: v.optional(v.string(), "AWS_KMS"),
      Tags: v.optional(TagList, []),
      MultiRegion: v.optional(v.boolean(), false),
      Policy: v.optional(v.pipe(v.string(), v.maxLength(131072))),
      CustomKeyStoreId: v.optional(v.string()),
      BypassPolicyLockoutSafetyCheck: v.optional(v.boolean()),
    }),
    run: async (ctx, input) => {
      const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
      if (!KEY_SPECS.includes(spec)) throw Errors.unsupportedOperation(`KeySpec ${spec} is not supported: kms keys are SYMMETRIC_DEFAULT or HMAC_224/256/384/512`);
      if (input.KeyUsage !== "ENCRYPT_DECRYPT" && input.KeyUsage !== "GENERATE_VERIFY_MAC") throw Errors.unsupportedOperation(`KeyUsage ${input.KeyUsage} is not supported`);
      if ((input.KeyUsage === "GENERATE_VERIFY_MAC") !== spec.startsWith("HMAC_")) throw Aws.validation(`KeyUsage ${input.KeyUsage} is not compatible with KeySpec ${spec}`);
      if (input.Origin !== "AWS_KMS") throw Errors.unsupportedOperation(`Origin ${input.Origin} is not supported: kms makes its own key material`);
      if (input.MultiRegion) throw Errors.unsupportedOperation("multi-Region keys are not supported");
      if (input.CustomKeyStoreId !== undefined) throw Errors.unsupportedOperation("custom key stores are not supported");
      const name = randomUUID();
      ctx.authorize(ACTIONS.CreateKey, name);
      const meta = { description: input.Description, usage: input.KeyUsage as KeyUsage, spec: spec as KeySpec, tags: tagRecord(input.Tags) };
      await ctx.node.write({
        type: "key.create", enclave: ctx.enclave, name, keyType: "AES256", material: encodeBase64(randomBytes(32)),
        addVersion: false, meta, at: ctx.node.clock(), by: ctx.caller.identity,
      });
      return { KeyMetadata: keyMetadata(ctx, ctx.node.state.keyRing(ctx.enclave, name)) };
    },
  }),
  operation({
    name: "DescribeKey",
    schema: v.object({ KeyId, GrantTokens: v.optional(v.array(v.string())) }),
    run: async (ctx, input) => {
      const ring = await readKey(ctx, await resolveKey(ctx, input.KeyId, ACTIONS.DescribeKey), ACTIONS.DescribeKey);
      return { KeyMetadata: keyMetadata(ctx, ring) };
    },
  }),
  operation({
    name: "ListKeys",
    schema: v.object(Paging),
    run: async (ctx, input) => {
      ctx.authorize(ACTIONS.ListKeys);
      await ctx.barrier([Obj.keys(ctx.enclave)]);
      const names = [...ctx.node.state.enclave(ctx.enclave).keys.keys()].filter((n) => listable(ctx.caller, ACTIONS.ListKeys, n)).sort();
      const { page, truncated, ...next } = pageOf(names, (n) => n, fromMarker(input.Marker), input.Limit);
      return { Keys: page.map((n) => ({ KeyId: n, KeyArn: keyArn(ctx, n) })), ...next, Truncated: truncated };
    },
  }),
  ...(["EnableKey", "DisableKey"] as const).map((name) =>
    operation({
      name,
      schema: v.object({ KeyId }),
      run: async (ctx, input) => {
        const ring = await keyById(ctx, input.KeyId, ACTIONS[name]);
        await ctx.node.write({ type: "key.set-state", enclave: ctx.enclave, name: ring.name, enabled: name === "EnableKey" });
      },
    })
  ),
  operation({
    name: "ScheduleKeyDeletion",
    schema: v.object({ KeyId, PendingWindowInDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(7, "PendingWindowInDays must be 7 to 30"), v.maxValue(30, "PendingWindowInDays must be 7 to 30")), 30) }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.ScheduleKeyDeletion);
      await ctx.node.write({ type: "key.schedule-deletion", enclave: ctx.enclave, name: ring.name, windowDays: input.PendingWindowInDays, at: ctx.node.clock() });
      const lc = lifecycle(ctx.node.state.keyRing(ctx.enclave, ring.name));
      return { KeyId: keyArn(ctx, ring.name), DeletionDate: seconds(lc.deletion?.at ?? 0), KeyState: lc.state, PendingWindowInDays: input.PendingWindowInDays };
    },
  }),
  operation({
    name: "CancelKeyDeletion",
    schema: v.object({ KeyId }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.CancelKeyDeletion);
      await ctx.node.write({ type: "key.cancel-deletion", enclave: ctx.enclave, name: ring.name });
      return { KeyId: keyArn(ctx, ring.name) };
    },
  }),
  operation({
    name: "EnableKeyRotation",
    schema: v.object({ KeyId, RotationPeriodInDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(90, "RotationPeriodInDays must be 90 to 2560"), v.maxValue(2560, "RotationPeriodInDays must be 90 to 2560")), 365) }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.EnableKeyRotation);
      await ctx.node.write({ type: "key.rotation", enclave: ctx.enclave, name: ring.name, periodDays: input.RotationPeriodInDays, at: ctx.node.clock() });
    },
  }),
  operation({
    name: "DisableKeyRotation",
    schema: v.object({ KeyId }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.DisableKeyRotation);
      await ctx.node.write({ type: "key.rotation", enclave: ctx.enclave, name: ring.name, periodDays: 0, at: ctx.node.clock() });
    },
  }),
  operation({
    name: "GetKeyRotationStatus",
    schema: v.object({ KeyId }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.GetKeyRotationStatus);
      const lc = lifecycle(ring);
      if (lc.usage !== "ENCRYPT_DECRYPT") throw Errors.unsupportedOperation(`${keyArn(ctx, ring.name)} key usage is GENERATE_VERIFY_MAC: only encryption keys rotate.`);
      const next = nextRotation(lc);
      return {
        KeyRotationEnabled: lc.rotation !== undefined, KeyId: keyArn(ctx, ring.name),
        ...(lc.rotation ? { RotationPeriodInDays: lc.rotation.periodDays, NextRotationDate: seconds(next!) } : {}),
      };
    },
  }),
  operation({
    name: "RotateKeyOnDemand",
    schema: v.object({ KeyId }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.RotateKeyOnDemand);
      await ctx.node.write({
        type: "key.rotate", enclave: ctx.enclave, name: ring.name, material: encodeBase64(randomBytes(32)), due: false, at: ctx.node.clock(), by: ctx.caller.identity,
      });
      return { KeyId: keyArn(ctx, ring.name) };
    },
  }),
  operation({
    name: "ListKeyRotations",
    schema: v.object({ KeyId, IncludeKeyMaterial: v.optional(v.string()), ...Paging }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.ListKeyRotations);
      const lc = lifecycle(ring);
      if (lc.usage !== "ENCRYPT_DECRYPT") throw Errors.unsupportedOperation(`${keyArn(ctx, ring.name)} key usage is GENERATE_VERIFY_MAC: only encryption keys rotate.`);
      // Every version after the first is a rotation; automatic rotation marks its own.
      const rotations = ring.versions.slice(1).map((kv) => ({ key: String(kv.version).padStart(10, "0"), kv }));
      const { page, truncated, ...next } = pageOf(rotations, (r) => r.key, fromMarker(input.Marker), input.Limit);
      return {
        Rotations: page.map(({ kv }) => ({
          KeyId: keyArn(ctx, ring.name), RotationDate: seconds(kv.createdAt), RotationType: lc.automatic.includes(kv.version) ? "AUTOMATIC" : "ON_DEMAND",
        })),
        ...next, Truncated: truncated,
      };
    },
  }),
  operation({
    name: "TagResource",
    schema: v.object({ KeyId, Tags: TagList }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.TagResource);
      await ctx.node.write({ type: "key.tag", enclave: ctx.enclave, name: ring.name, set: tagRecord(input.Tags), remove: [] });
    },
  }),
  operation({
    name: "UntagResource",
    schema: v.object({ KeyId, TagKeys: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(128))), v.maxLength(50)) }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.UntagResource);
      await ctx.node.write({ type: "key.tag", enclave: ctx.enclave, name: ring.name, set: {}, remove: input.TagKeys });
    },
  }),
  operation({
    name: "ListResourceTags",
    schema: v.object({ KeyId, Limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(50)), 50), Marker: Paging.Marker }),
    run: async (ctx, input) => {
      const ring = await keyById(ctx, input.KeyId, ACTIONS.ListResourceTags);
      const tags = Object.entries(lifecycle(ring).tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const { page, truncated, ...next } = pageOf(tags, ([k]) => k, fromMarker(input.Marker), input.Limit);
      return { Tags: page.map(([TagKey, TagValue]) => ({ TagKey, TagValue })), ...next, Truncated: truncated };
    },
  }),
];
