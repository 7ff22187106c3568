/** AWS KMS's aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. */
import * as v from "valibot";
import { Obj } from "../../node/pending.ts";
import { Errors } from "../../state/errors.ts";
import { AliasSchema } from "../../state/lifecycle.ts";
import { listable } from "../../state/policy.ts";
import { ACTIONS } from "./actions.ts";
import { aliasArn, fromMarker, pageOf, Paging, parseKeyId, readKey, resolveKey, seconds } from "./keys.ts";
import { type AwsContext, operation } from "./operation.ts";
import { KeyId } from "./schemas.ts";

/** The alias record of `alias` (404 when there is none), once pending changes to aliases are settled. */
async function aliasRecord(ctx: AwsContext, alias: string) {
  await ctx.barrier([Obj.aliases(ctx.enclave)]);
  const record = ctx.node.state.enclave(ctx.enclave).aliases.get(alias);
  if (!record) throw Errors.aliasNotFound();
  return record;
}

/** Sets an alias to a key named by id or ARN; the caller needs KEY:UPDATE on the key (and on the old one, when repointing). */
async function setAlias(ctx: AwsContext, alias: string, keyId: string, create: boolean) {
  const target = await readKey(ctx, await resolveKey(ctx, keyId, ACTIONS.CreateAlias, false), ACTIONS.CreateAlias);
  if (!create) ctx.authorize(ACTIONS.UpdateAlias, (await aliasRecord(ctx, alias)).key);
  await ctx.node.write({ type: "alias.set", enclave: ctx.enclave, alias, key: target.name, create, at: ctx.node.clock() });
}

const AliasName = v.pipe(v.string(), v.maxLength(256), AliasSchema);

/** The alias operations. */
export const aliasOperations = [
  operation({
    name: "CreateAlias",
    schema: v.object({ AliasName, TargetKeyId: KeyId }),
    run: (ctx, input) => setAlias(ctx, input.AliasName, input.TargetKeyId, true),
  }),
  operation({
    name: "UpdateAlias",
    schema: v.object({ AliasName, TargetKeyId: KeyId }),
    run: (ctx, input) => setAlias(ctx, input.AliasName, input.TargetKeyId, false),
  }),
  operation({
    name: "DeleteAlias",
    schema: v.object({ AliasName }),
    run: async (ctx, input) => {
      ctx.authorize(ACTIONS.DeleteAlias);
      ctx.authorize(ACTIONS.DeleteAlias, (await aliasRecord(ctx, input.AliasName)).key);
      await ctx.node.write({ type: "alias.delete", enclave: ctx.enclave, alias: input.AliasName });
    },
  }),
  operation({
    name: "ListAliases",
    schema: v.object({ KeyId: v.optional(KeyId), ...Paging }),
    run: async (ctx, input) => {
      ctx.authorize(ACTIONS.ListAliases);
      const key = input.KeyId === undefined ? undefined : parseKeyId(ctx, input.KeyId, false);
      if (key && "key" in key) await readKey(ctx, key.key, ACTIONS.ListAliases);
      await ctx.barrier([Obj.aliases(ctx.enclave)]);
      const all = [...ctx.node.state.enclave(ctx.enclave).aliases.values()]
        .filter((a) => (!key || ("key" in key && a.key === key.key)) && listable(ctx.caller, ACTIONS.ListAliases, a.key))
        .sort((a, b) => (a.alias < b.alias ? -1 : 1));
      const { page, truncated, ...next } = pageOf(all, (a) => a.alias, fromMarker(input.Marker), input.Limit);
      return {
        Aliases: page.map((a) => ({
          AliasName: a.alias, AliasArn: aliasArn(ctx, a.alias), TargetKeyId: a.key, CreationDate: seconds(a.createdAt), LastUpdatedDate: seconds(a.updatedAt),
        })),
        ...next, Truncated: truncated,
      };
    },
  }),
];
