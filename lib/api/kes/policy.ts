/**
 * KES's identity and policy routes: /v1/identity/self/describe and
 * /v1/policy/{describe,read,list}, in the shapes kes-go decodes: `admin` a
 * bool, `policy` the policy's name, `allow`/`deny` objects keyed by path
 * pattern (each value {}), times in RFC 3339, identities in KES hex.
 */
import * as v from "valibot";
import type { KesPolicy } from "./backend.ts";
import { kesError, KesMessages } from "./errors.ts";
import { kesHexOf } from "../../identity/kes.ts";
import type { KesKit } from "./kit.ts";
import { KesName } from "./schemas.ts";

/** A set of patterns as KES encodes it: {"<pattern>": {}, …}. */
function ruleSet(patterns: readonly string[]): Record<string, Record<string, never>> {
  return Object.fromEntries(patterns.map((p) => [p, {}]));
}

const time = (ms: number) => new Date(ms).toISOString();

/** Registers the identity and policy routes. */
export function policyRoutes(kit: KesKit): void {
  const { opts } = kit;

  kit.on("/v1/identity/self/describe", async (c) => {
    if (!c.env?.identity) return kesError(c, 403, KesMessages.denied);
    const access = await kit.gate(c, "self", "", "/v1/identity/self/describe");
    if (access instanceof Response) return access;
    const s = opts.backend().self(c.env.identity);
    return c.json({
      identity: kesHexOf(s.identity),
      admin: s.admin,
      policy: s.policy?.name ?? "",
      allow: ruleSet(s.policy?.allow ?? []),
      deny: ruleSet(s.policy?.deny ?? []),
      created_at: time(s.createdAt),
      created_by: kesHexOf(s.createdBy),
    });
  });

  /** A route on one policy: validate the name, authorise, look it up. */
  const onePolicy = (path: string, op: "policyDescribe" | "policyRead", reply: (p: KesPolicy) => unknown) =>
    kit.on(path, async (c, name) => {
      const refused = await kit.known(c);
      if (refused) return refused;
      const n = v.safeParse(KesName, name);
      if (!n.success) return kesError(c, 400, n.issues[0].message.replace("key name", "policy name"));
      const access = await kit.gate(c, op, name, path + name);
      if (access instanceof Response) return access;
      const p = opts.backend().policies().get(name);
      return p ? c.json(reply(p)) : kesError(c, 404, KesMessages.policyNotFound);
    });

  onePolicy("/v1/policy/describe/", "policyDescribe", (p) => ({ created_at: time(p.createdAt), created_by: kesHexOf(p.createdBy) }));
  onePolicy("/v1/policy/read/", "policyRead", (p) => ({
    allow: ruleSet(p.allow), deny: ruleSet(p.deny), created_at: time(p.createdAt), created_by: kesHexOf(p.createdBy),
  }));

  kit.listing("/v1/policy/list/", "policyList", async (prefix, continueAt, size, visible) => {
    const names = [...opts.backend().policies().keys()].filter((n) => n.startsWith(prefix) && n >= continueAt && visible(n)).sort();
    return { names: names.slice(0, size), continueAt: names[size] ?? "" };
  });
}
