/**
 * The read barrier's rule: a request waits only for pending entries that
 * change something it reads (docs/cluster.md, "Reads wait only on what they
 * read"). What a request reads and what a command changes are both sets of
 * object names; a pending entry blocks a request iff the sets meet.
 */
import * as v from "valibot";
import type { Entry } from "../cluster/types.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import type { State } from "../state/state.ts";

/** Names of the objects of the state a request may read (names and identities hold no spaces). */
export const Obj = {
  /** The set of enclaves (ENCLAVE:LIST). */
  enclaves: "enclaves",
  /** Enclave `e` itself: its record, and whether it exists (every request in it reads this). */
  enclave: (e: string) => `enclave ${e}`,
  key: (e: string, name: string) => `key ${e} ${name}`,
  /** The set of keys of `e` (KEY:LIST). */
  keys: (e: string) => `keys ${e}`,
  identity: (e: string, id: string) => `identity ${e} ${id}`,
  /** The identities of `e` (IDENTITY:LIST, and the service accounts an IDENTITY:STATUS shows). */
  identities: (e: string) => `identities ${e}`,
  policy: (e: string, name: string) => `policy ${e} ${name}`,
  policies: (e: string) => `policies ${e}`,
  /** Whether `id` is a SysAdmin anywhere. */
  sysAdmin: (id: string) => `sysadmin ${id}`,
  /** Whether the HSM-derived admin API key is enabled. */
  adminKey: "admin-key",
} as const;

/**
 * What resolving `identity` as a caller in `enclave` reads (see callerOf): its
 * SysAdmin standing, its record in the enclave, the enclave, and the policy
 * the record names. The HSM-derived admin reads only whether it is enabled.
 */
export function callerReads(state: State, adminIdentity: string, identity: string | undefined, enclave: string): string[] {
  if (!identity) return [];
  if (identity === adminIdentity) return [Obj.adminKey];
  const out = [Obj.sysAdmin(identity)];
  if (!enclave) return out;
  out.push(Obj.enclave(enclave), Obj.identity(enclave, identity));
  const policy = state.enclaves.get(enclave)?.identities.get(identity)?.policy;
  if (policy) out.push(Obj.policy(enclave, policy));
  return out;
}

/**
 * The objects `cmd` may change when it applies on top of `state`. Where a
 * command's reach depends on the state (service accounts deleted with their
 * owner, identities holding a deleted policy, SysAdmins of a deleted
 * enclave), the applied state decides; an earlier pending entry that would
 * change that answer changes the object itself, so it blocks the read anyway.
 */
export function changes(cmd: Command, state: State): string[] {
  switch (cmd.type) {
    case "enclave.create":
    case "enclave.delete": {
      const out: string[] = [Obj.enclaves, Obj.enclave(cmd.name)];
      for (const i of state.enclaves.get(cmd.name)?.identities.values() ?? []) out.push(Obj.sysAdmin(i.identity));
      return out;
    }
    case "key.create":
    case "key.delete":
      return [Obj.key(cmd.enclave, cmd.name), Obj.keys(cmd.enclave)];
    case "identity.create":
      return [Obj.identity(cmd.enclave, cmd.identity), Obj.identities(cmd.enclave), Obj.sysAdmin(cmd.identity)];
    case "identity.delete": {
      const out: string[] = [Obj.identities(cmd.enclave)];
      const owned = [...state.enclaves.get(cmd.enclave)?.identities.values() ?? []].filter((i) => i.serviceAccount && i.createdBy === cmd.identity);
      for (const id of [cmd.identity, ...owned.map((i) => i.identity)]) out.push(Obj.identity(cmd.enclave, id), Obj.sysAdmin(id));
      return out;
    }
    case "policy.create":
      return [Obj.policy(cmd.enclave, cmd.name), Obj.policies(cmd.enclave)];
    case "policy.delete": {
      const out: string[] = [Obj.policy(cmd.enclave, cmd.name), Obj.policies(cmd.enclave), Obj.identities(cmd.enclave)];
      for (const i of state.enclaves.get(cmd.enclave)?.identities.values() ?? []) {
        if (i.policy === cmd.name) out.push(Obj.identity(cmd.enclave, i.identity));
      }
      return out;
    }
    case "policy.assign":
      return [Obj.identity(cmd.enclave, cmd.identity), Obj.identities(cmd.enclave)];
    case "admin-key.set":
      return [Obj.adminKey];
  }
}

/** Objects changed by an entry, computed once per entry and applied index (entries come from peers: invalid ones change nothing). */
const cache = new WeakMap<object, { applied: number; objects: readonly string[] }>();

function changedBy(e: Entry<Command>, state: State): readonly string[] {
  if (e.type !== "cmd") return [];
  const hit = cache.get(e);
  if (hit && hit.applied === state.applied) return hit.objects;
  const objects = v.is(CommandSchema, e.cmd) ? changes(e.cmd, state) : [];
  cache.set(e, { applied: state.applied, objects });
  return objects;
}

/** The first pending entry that changes something in `reads`, if any. */
export function blocker(pending: readonly Entry<Command>[], reads: ReadonlySet<string>, state: State): Entry<Command> | undefined {
  if (reads.size === 0) return undefined;
  for (const e of pending) {
    for (const o of changedBy(e, state)) if (reads.has(o)) return e;
  }
  return undefined;
}
