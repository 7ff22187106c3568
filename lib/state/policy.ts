/**
 * Access decisions, as pure functions of the caller and the request, so they
 * can be table-tested and reasoned about apart from the protocol.
 */
import type { State } from "./state.ts";
import type { PolicyRecord, Privilege } from "./types.ts";

/** Who is asking: a privilege, the enclave the identity lives in, and its policy. */
export interface Caller {
  readonly identity: string;
  readonly privilege: Privilege;
  /** The enclave the identity lives in; undefined for SysAdmins, who act everywhere. */
  readonly enclave?: string;
  readonly policy?: PolicyRecord;
}

/** Whether a pattern ('*' matches any run of characters) matches a whole name. */
export function matches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === name;
  if (!name.startsWith(parts[0])) return false;
  let at = parts[0].length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = name.indexOf(parts[i], at);
    if (found < 0) return false;
    at = found + parts[i].length;
  }
  const last = parts[parts.length - 1];
  return name.length - last.length >= at && name.endsWith(last);
}

/** Whether a policy lets `command` act on `name`: a matching deny wins, else a matching allow is needed. */
export function policyAllows(policy: PolicyRecord | undefined, command: string, name: string): boolean {
  if (!policy) return false;
  if ((policy.deny[command] ?? []).some((p) => matches(p, name))) return false;
  return (policy.allow[command] ?? []).some((p) => matches(p, name));
}

/** Cluster- and enclave-wide commands are for SysAdmins only. */
function isSystemCommand(command: string): boolean {
  return command.startsWith("CLUSTER:") || command.startsWith("ENCLAVE:");
}

/**
 * Whether `caller` may run `command` in `enclave` on `name`. For listings pass
 * no name: the caller then needs some allow rule for the command, and each
 * listed item is checked with `policyAllows`.
 */
export function authorize(caller: Caller | undefined, command: string, enclave: string, name?: string): boolean {
  if (!caller) return false;
  if (caller.privilege === "SysAdmin") return true;
  if (isSystemCommand(command) || enclave !== caller.enclave) return false;
  if (caller.privilege === "Admin") return true;
  if (name !== undefined) return policyAllows(caller.policy, command, name);
  return (caller.policy?.allow[command]?.length ?? 0) > 0;
}

/** Whether `caller` may see `name` in a listing produced by `command`. */
export function listable(caller: Caller, command: string, name: string): boolean {
  return caller.privilege !== "User" || policyAllows(caller.policy, command, name);
}

/**
 * Resolves who an identity is for a request in `enclave` ("" for cluster-wide
 * commands): the cluster's admin API key (unless disabled), an identity of that enclave, or a SysAdmin
 * stored in any enclave. Unknown identities resolve to undefined.
 */
export function callerOf(state: State, adminIdentity: string, identity: string | undefined, enclave: string): Caller | undefined {
  if (!identity) return undefined;
  // SysAdmin anywhere wins over a lesser record of the same identity in this enclave.
  if ((identity === adminIdentity && !state.adminKey.disabled) || state.isSysAdmin(identity)) return { identity, privilege: "SysAdmin" };
  const e = enclave ? state.enclaves.get(enclave) : undefined;
  const record = e?.identities.get(identity);
  if (!record) return undefined;
  return { identity, privilege: record.privilege, enclave, policy: record.policy ? e!.policies.get(record.policy) : undefined };
}
