import * as v from "valibot";
import { newAccessKeyId, newSecret, sealKey, sealSecret } from "../../node/access-keys.ts";
import { Obj } from "../../node/pending.ts";
import { Errors } from "../../state/errors.ts";
import { AccessKeyIdSchema } from "../../state/lifecycle.ts";
import { IdentitySchema } from "../../state/names.ts";
import type { Caller } from "../../state/policy.ts";
import { PRIVILEGE_RANK } from "../../state/types.ts";
import { wireCommand } from "../../wire/commands.ts";
import { command } from "./command.ts";
import { timestamp } from "../../wire/proto.ts";
import { ListSchema, listPage } from "./schemas.ts";

/** Callers manage access keys only of identities of their own privilege or below (as identities themselves). */
function checkRank(caller: Caller, privilege: keyof typeof PRIVILEGE_RANK): void {
  if (PRIVILEGE_RANK[privilege] < PRIVILEGE_RANK[caller.privilege]) throw Errors.accessDenied();
}

/**
 * ACCESSKEY:* (kms extensions, 1501–1503): AWS access keys of an enclave's
 * identities, for the AWS KMS API. The secret is made here, sealed into the
 * state, and answered once, to the caller of ACCESSKEY:CREATE.
 */
export const accessKeyCommands = [
  command({
    ...wireCommand("ACCESSKEY:CREATE"), write: true,
    schema: v.object({ identity: IdentitySchema }),
    resource: (req) => req.identity,
    reads: (e, req) => [Obj.identity(e, req.identity)],
    run: async (ctx, req) => {
      checkRank(ctx.caller, ctx.node.state.identity(ctx.enclave, req.identity).privilege);
      const id = newAccessKeyId();
      const secret = newSecret();
      await ctx.node.write({
        type: "access-key.create", enclave: ctx.enclave, id, identity: req.identity, sealed: sealSecret(sealKey(ctx.node), id, secret),
        at: Date.now(), by: ctx.identity,
      });
      return { access_key_id: id, secret_access_key: secret };
    },
  }),
  command({
    ...wireCommand("ACCESSKEY:DELETE"), write: true,
    schema: v.object({ access_key_id: AccessKeyIdSchema }),
    resource: (req) => req.access_key_id,
    reads: (_e, req) => [Obj.accessKey(req.access_key_id)],
    run: (ctx, req) => {
      const record = ctx.node.state.enclave(ctx.enclave).accessKeys.get(req.access_key_id);
      if (!record) throw Errors.accessKeyNotFound();
      checkRank(ctx.caller, ctx.node.state.identity(ctx.enclave, record.identity).privilege);
      return ctx.node.write({ type: "access-key.delete", enclave: ctx.enclave, id: req.access_key_id });
    },
  }),
  command({
    ...wireCommand("ACCESSKEY:LIST"), write: false,
    schema: ListSchema, reads: (e) => [Obj.accessKeys(e)],
    run: (ctx, req) => {
      const p = listPage(ctx, "ACCESSKEY:LIST", ctx.node.state.enclave(ctx.enclave).accessKeys, req);
      return {
        access_keys: p.items.map((k) => ({ access_key_id: k.id, identity: k.identity, created_at: timestamp(k.createdAt), created_by: k.createdBy })),
        continue_at: p.continueAt,
      };
    },
  }),
];
