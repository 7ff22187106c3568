import * as v from "valibot";
import { Errors } from "../../state/errors.ts";
import { IdentitySchema } from "../../state/names.ts";
import type { Caller } from "../../state/policy.ts";
import type { State } from "../../state/state.ts";
import { type IdentityRecord, PRIVILEGE_RANK, type Privilege } from "../../state/types.ts";
import { TagsSchema } from "../../state/commands.ts";
import { Obj } from "../../node/pending.ts";
import { command } from "./command.ts";
import { wireCommand } from "../../wire/commands.ts";
import { timestamp } from "../../wire/proto.ts";
import { ListSchema, listPage } from "./schemas.ts";

const ById = v.object({ identity: IdentitySchema });
const PrivilegeSchema = v.pipe(
  v.picklist(["", "SysAdmin", "Admin", "User"], "invalid privilege: use SysAdmin, Admin or User"),
  v.transform((p) => (p === "" ? "User" : p) as Privilege),
);

/** Callers manage only identities of their own privilege or below. */
function checkRank(caller: Caller, target: Privilege): void {
  if (PRIVILEGE_RANK[target] < PRIVILEGE_RANK[caller.privilege]) throw Errors.accessDenied();
}

/** The IdentityResponse of an identity. */
function status(state: State, i: IdentityRecord) {
  const accounts = [...state.enclave(i.enclave).identities.values()].filter((a) => a.serviceAccount && a.createdBy === i.identity);
  return {
    identity: i.identity,
    privilege: PRIVILEGE_RANK[i.privilege],
    policy: i.policy,
    created_at: timestamp(i.createdAt),
    created_by: i.createdBy,
    is_service_account: i.serviceAccount,
    service_accounts: accounts.map((a) => a.identity).sort(),
    tags: i.tags,
  };
}

/** IDENTITY:* commands (401–404). */
export const identityCommands = [
  command({
    ...wireCommand("IDENTITY:CREATE"), write: true,
    schema: v.object({ identity: IdentitySchema, privilege: PrivilegeSchema, service_account: v.boolean(), tags: TagsSchema }),
    resource: (req) => req.identity,
    run: (ctx, req) => {
      checkRank(ctx.caller, req.privilege);
      return ctx.node.write({
        type: "identity.create", enclave: ctx.enclave, identity: req.identity, privilege: req.privilege, policy: "",
        serviceAccount: req.service_account, tags: req.tags, at: Date.now(), by: ctx.identity,
      });
    },
  }),
  command({
    ...wireCommand("IDENTITY:DELETE"), write: true, schema: ById,
    resource: (req) => req.identity,
    reads: (e, req) => [Obj.identity(e, req.identity)],
    run: (ctx, req) => {
      checkRank(ctx.caller, ctx.node.state.identity(ctx.enclave, req.identity).privilege);
      return ctx.node.write({ type: "identity.delete", enclave: ctx.enclave, identity: req.identity });
    },
  }),
  command({
    ...wireCommand("IDENTITY:STATUS"), write: false,
    schema: ById,
    resource: (req) => req.identity,
    reads: (e) => [Obj.identities(e)], // the identity and the service accounts it made
    run: (ctx, req) => status(ctx.node.state, ctx.node.state.identity(ctx.enclave, req.identity)),
  }),
  command({
    ...wireCommand("IDENTITY:LIST"), write: false,
    schema: ListSchema, reads: (e) => [Obj.identities(e)],
    run: (ctx, req) => {
      const p = listPage(ctx, "IDENTITY:LIST", ctx.node.state.enclave(ctx.enclave).identities, req);
      return { identities: p.items.map((i) => status(ctx.node.state, i)), continue_at: p.continueAt };
    },
  }),
];
