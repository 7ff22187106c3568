import type { Entry } from "../cluster/types.ts";
import type { Command } from "../state/commands.ts";

/**
 * Whether any pending entry may change what a request in `enclave` reads
 * ("" = cluster-wide requests, which read the set of enclaves; null = only
 * who is who). Identity changes, and disabling or enabling the admin API key,
 * can grant or revoke SysAdmin anywhere, so they touch everything.
 */
export function touches(pending: readonly Entry<Command>[], enclave: string | null): boolean {
  for (const e of pending) {
    if (e.type !== "cmd") continue;
    const c = e.cmd;
    if (c.type === "identity.create" || c.type === "identity.delete" || c.type === "admin-key.set") return true;
    if (enclave === null) continue; // only identity changes asked for
    if (c.type === "enclave.create" || c.type === "enclave.delete" ? enclave === "" || c.name === enclave : c.enclave === enclave) return true;
  }
  return false;
}
