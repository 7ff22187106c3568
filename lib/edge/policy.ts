/**
 * KES's access rules: the admin identity may do everything; any other
 * identity needs the one policy that names it, whose deny patterns win over
 * its allow patterns, each matched against the request's URL path. A pattern
 * is an exact path, or a prefix when it ends in '*'.
 */
import type { EdgePolicy } from "./config.ts";

/** Whether a KES path pattern matches a path. */
export function pathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith("*") ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

/** Whether `policy` allows `path`: denied if a deny pattern matches, allowed if an allow pattern does. */
export function policyAllowsPath(policy: EdgePolicy, path: string): boolean {
  if (policy.deny.some((p) => pathMatches(p, path))) return false;
  return policy.allow.some((p) => pathMatches(p, path));
}

/** Who may do what, from one config. */
export class EdgeAccess {
  readonly admin?: string;
  readonly policies: ReadonlyMap<string, EdgePolicy>;
  readonly #policyOf = new Map<string, string>();

  constructor(admin: string | undefined, policies: ReadonlyMap<string, EdgePolicy>) {
    this.admin = admin;
    this.policies = policies;
    for (const [name, p] of policies) for (const id of p.identities) this.#policyOf.set(id, name);
  }

  /** The name of the policy of an h1: identity ("" for none). */
  policyName(identity: string): string {
    return this.#policyOf.get(identity) ?? "";
  }

  isKnown(identity: string | undefined): boolean {
    return identity !== undefined && (identity === this.admin || this.#policyOf.has(identity));
  }

  allows(identity: string | undefined, path: string): boolean {
    if (identity === undefined) return false;
    if (identity === this.admin) return true;
    const name = this.#policyOf.get(identity);
    return name !== undefined && policyAllowsPath(this.policies.get(name)!, path);
  }
}
