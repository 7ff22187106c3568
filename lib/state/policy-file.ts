/**
 * Policy documents as people write them (files for the CLI, the console's
 * editor): JSON or YAML, {allow: {COMMAND: patterns}, deny: {…}}, a rule set
 * being one pattern, a list, or an object keyed by pattern (MinIO's RuleSet
 * form). Pure, so the CLI and the console's page check them the same way.
 */
import * as v from "valibot";
import YAML from "yaml";
import { didYouMean } from "./suggest.ts";

/** A policy document that cannot be used; the message says where and why. */
export class PolicyFileError extends Error {}

/** The command names a server knows, and those a policy may grant (cluster and enclave commands are SysAdmin-only). */
export interface PolicyCommandNames {
  readonly all: readonly string[];
  readonly grantable: readonly string[];
}

/** Allow and deny rules: command → patterns. */
export interface PolicyRules {
  readonly allow: Record<string, string[]>;
  readonly deny: Record<string, string[]>;
}

const RuleSetFile = v.union([v.string(), v.array(v.string()), v.record(v.string(), v.unknown())]);
const PolicyFile = v.strictObject({
  allow: v.optional(v.record(v.string(), RuleSetFile), {}),
  deny: v.optional(v.record(v.string(), RuleSetFile), {}),
});

/**
 * Parses a policy document. `source` names it in messages (a file name; ""
 * for text typed in the console). Command names match in any case and come
 * out as the server spells them; a misspelt one suggests the closest.
 */
export function parsePolicyText(text: string, source: string, names: PolicyCommandNames): PolicyRules {
  const where = source ? `policy ${source}` : "policy";
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new PolicyFileError(`cannot read ${where}: ${(err as Error).message}`);
  }
  const r = v.safeParse(PolicyFile, raw ?? {});
  if (!r.success) {
    throw new PolicyFileError(`invalid ${where}: expected {allow: {COMMAND: patterns}, deny: {COMMAND: patterns}} (at ${v.getDotPath(r.issues[0]) ?? "the top level"})`);
  }
  const commandName = (section: string, name: string): string => {
    const found = names.all.find((c) => c === name.toUpperCase());
    if (found && names.grantable.includes(found)) return found;
    const why = found ? `'${name}' is for SysAdmins only: a policy cannot grant it`
      : `unknown command '${name}'${didYouMean(name.toUpperCase(), names.grantable)}`;
    throw new PolicyFileError(`invalid ${where}: ${section}: ${why}\nvalid commands: ${names.grantable.join(", ")} (kms ls-commands)`);
  };
  const patterns = (set: v.InferOutput<typeof RuleSetFile>) => typeof set === "string" ? [set] : Array.isArray(set) ? set : Object.keys(set);
  const rules = (section: string, m: Record<string, v.InferOutput<typeof RuleSetFile>>) =>
    Object.fromEntries(Object.entries(m).map(([cmd, s]) => [commandName(section, cmd), patterns(s)]));
  return { allow: rules("allow", r.output.allow), deny: rules("deny", r.output.deny) };
}
