import * as v from "valibot";
import { RulesSchema } from "../../state/commands.ts";
import { Errors } from "../../state/errors.ts";
import { IdentitySchema } from "../../state/names.ts";
import { type PolicyRecord, PRIVILEGE_RANK, type Rules } from "../../state/types.ts";
import { Obj } from "../../node/pending.ts";
import { command } from "./command.ts";
import { wireCommand } from "../../wire/commands.ts";
import { timestamp } from "../../wire/proto.ts";
import { ruleSets } from "../../wire/rules.ts";
import { ListSchema, listPage, Name } from "./schemas.ts";

const ByName = v.object({ name: Name });
/** The wire form map<command, RuleSet{rules: map<pattern, Rule{}>}> as Rules (command → patterns). */
const RuleSets = v.pipe(
  v.record(v.string(), v.object({ rules: v.record(v.string(), v.unknown()) })),
  v.transform((sets): Rules => Object.fromEntries(Object.entries(sets).map(([cmd, set]) => [cmd, Object.keys(set.rules).sort()]))),
  RulesSchema,
);

function status(p: PolicyRecord) {
  return { name: p.name, created_at: timestamp(p.createdAt), created_by: p.createdBy };
}

/** POLICY:* commands (301–306). */
export const policyCommands = [
  command({
    ...wireCommand("POLICY:CREATE"), write: true,
    schema: v.object({ name: Name, allow: RuleSets, deny: RuleSets }),
    resource: (req) => req.name,
    run: (ctx, req) =>
      ctx.node.write({ type: "policy.create", enclave: ctx.enclave, name: req.name, allow: req.allow, deny: req.deny, at: Date.now(), by: ctx.identity }),
  }),
  command({
    ...wireCommand("POLICY:DELETE"), write: true, schema: ByName,
    resource: (req) => req.name,
    run: (ctx, req) => ctx.node.write({ type: "policy.delete", enclave: ctx.enclave, name: req.name }),
  }),
  command({
    ...wireCommand("POLICY:ASSIGN"), write: true,
    schema: v.object({ identity: IdentitySchema, policy: Name }),
    resource: (req) => req.policy,
    reads: (e, req) => [Obj.identity(e, req.identity)],
    run: (ctx, req) => {
      const target = ctx.node.state.identity(ctx.enclave, req.identity);
      if (PRIVILEGE_RANK[target.privilege] < PRIVILEGE_RANK[ctx.caller.privilege]) throw Errors.accessDenied();
      return ctx.node.write({ type: "policy.assign", enclave: ctx.enclave, identity: req.identity, policy: req.policy });
    },
  }),
  command({
    ...wireCommand("POLICY:GET"), write: false, schema: ByName,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.policy(e, req.name)],
    run: (ctx, req) => {
      const p = ctx.node.state.policy(ctx.enclave, req.name);
      return { ...status(p), allow: ruleSets(p.allow), deny: ruleSets(p.deny) };
    },
  }),
  command({
    ...wireCommand("POLICY:STATUS"), write: false, schema: ByName,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.policy(e, req.name)],
    run: (ctx, req) => status(ctx.node.state.policy(ctx.enclave, req.name)),
  }),
  command({
    ...wireCommand("POLICY:LIST"), write: false,
    schema: ListSchema, reads: (e) => [Obj.policies(e)],
    run: (ctx, req) => {
      const p = listPage(ctx, "POLICY:LIST", ctx.node.state.enclave(ctx.enclave).policies, req);
      return { policies: p.items.map(status), continue_at: p.continueAt };
    },
  }),
];
