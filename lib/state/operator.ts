/**
 * Who may watch a node: read its metrics and status (SYS:METRICS), its log
 * stream (SYS:LOG) and its audit stream (SYS:AUDIT). SysAdmins may; so may
 * any identity whose policy, in whichever enclave holds the identity, allows
 * the action with the pattern `*`. No other privilege implies it: an
 * enclave's Admin sees only its enclave, and these figures span them all.
 */
import { policyAllows } from "./policy.ts";
import type { State } from "./state.ts";

/** The actions a policy can grant to watch a node. */
export const OPERATOR_ACTIONS = ["SYS:METRICS", "SYS:LOG", "SYS:AUDIT"] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** Whether `identity` may take operator `action` (adminIdentity: the cluster's HSM-derived admin). */
export function operatorAllowed(state: State, adminIdentity: string, identity: string | undefined, action: OperatorAction): boolean {
  if (!identity) return false;
  if ((identity === adminIdentity && !state.adminKey.disabled) || state.isSysAdmin(identity)) return true;
  for (const e of state.enclaves.values()) {
    const record = e.identities.get(identity);
    const policy = record?.policy ? e.policies.get(record.policy) : undefined;
    if (policyAllows(policy, action, "*")) return true;
  }
  return false;
}
