import { decodeBase64 } from "../encoding/base64.ts";
import type { Command } from "./commands.ts";
import { Errors } from "./errors.ts";
import { enclaveEntry, type EnclaveEntry, State } from "./state.ts";
import type { AdminKeySetting, EnclaveRecord, IdentityRecord, KeyRing, PolicyRecord } from "./types.ts";

/** The kinds of record the state is made of; settings are cluster-wide (enclave ""). */
interface Entities {
  enclave: EnclaveRecord;
  key: KeyRing;
  identity: IdentityRecord;
  policy: PolicyRecord;
  setting: AdminKeySetting;
}

/** One record to write (or delete, when `value` is null) to make a command durable. */
export type Effect = { [K in keyof Entities]: { readonly kind: K; readonly enclave: string; readonly name: string; readonly value: Entities[K] | null } }[keyof Entities];

/**
 * Most versions one key may hold: each costs memory and a little work on every
 * decryption that names it, and the key's record is rewritten whole on each
 * rotation. Deleting old versions (rm-key --version N) makes room.
 */
export const MAX_KEY_VERSIONS = 1000;

/** The map of an enclave that holds records of a kind. */
const MAPS = { key: "keys", identity: "identities", policy: "policies" } as const;

/**
 * Checks a command against the state and computes its effects without changing
 * anything: a command that fails here changes nothing, in memory or on disk.
 */
export function prepare(state: State, cmd: Command): Effect[] {
  switch (cmd.type) {
    case "enclave.create":
      if (state.enclaves.has(cmd.name)) throw Errors.enclaveExists();
      return [{ kind: "enclave", enclave: cmd.name, name: cmd.name, value: { name: cmd.name, createdAt: cmd.at, createdBy: cmd.by } }];
    case "enclave.delete": {
      const e = state.enclave(cmd.name);
      return [
        ...(Object.keys(MAPS) as Array<keyof typeof MAPS>).flatMap((kind) =>
          [...e[MAPS[kind]].keys()].map((name): Effect => ({ kind, enclave: cmd.name, name, value: null }))
        ),
        { kind: "enclave", enclave: cmd.name, name: cmd.name, value: null },
      ];
    }
    case "key.create": {
      const e = state.enclave(cmd.enclave);
      const ring = e.keys.get(cmd.name);
      if (ring && !cmd.addVersion) throw Errors.keyExists();
      if (!ring && cmd.addVersion) throw Errors.keyNotFound();
      if (ring && ring.versions.length >= MAX_KEY_VERSIONS) throw Errors.tooManyVersions(MAX_KEY_VERSIONS);
      const number = ring?.nextVersion ?? 1;
      const version = {
        version: number, type: cmd.keyType, material: decodeBase64(cmd.material), imported: cmd.imported ?? false, createdAt: cmd.at, createdBy: cmd.by,
      };
      const value: KeyRing = {
        enclave: cmd.enclave,
        name: cmd.name,
        versions: [...(ring?.versions ?? []), version],
        nextVersion: number + 1,
      };
      return [{ kind: "key", enclave: cmd.enclave, name: cmd.name, value }];
    }
    case "key.delete": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      // With all_versions the version field is moot; otherwise it must exist.
      const doomed = cmd.allVersions ? 0 : state.keyVersion(cmd.enclave, cmd.name, cmd.version).version;
      const versions = cmd.allVersions ? [] : ring.versions.filter((v) => v.version !== doomed);
      const value = versions.length === 0 ? null : { ...ring, versions };
      return [{ kind: "key", enclave: cmd.enclave, name: cmd.name, value }];
    }
    case "identity.create": {
      const e = state.enclave(cmd.enclave);
      if (e.identities.has(cmd.identity)) throw Errors.identityExists();
      if (cmd.policy) state.policy(cmd.enclave, cmd.policy);
      const { type: _, at, by, ...rest } = cmd;
      return [{ kind: "identity", enclave: cmd.enclave, name: cmd.identity, value: { ...rest, createdAt: at, createdBy: by } }];
    }
    case "identity.delete": {
      const e = state.enclave(cmd.enclave);
      state.identity(cmd.enclave, cmd.identity);
      // Service accounts go with the identity that created them.
      const owned = [...e.identities.values()].filter((i) => i.serviceAccount && i.createdBy === cmd.identity);
      return [cmd.identity, ...owned.map((i) => i.identity)].map((name) => ({ kind: "identity", enclave: cmd.enclave, name, value: null }));
    }
    case "policy.create": {
      state.enclave(cmd.enclave);
      const value = { enclave: cmd.enclave, name: cmd.name, allow: cmd.allow, deny: cmd.deny, createdAt: cmd.at, createdBy: cmd.by };
      return [{ kind: "policy", enclave: cmd.enclave, name: cmd.name, value }];
    }
    case "policy.delete": {
      const e = state.enclave(cmd.enclave);
      state.policy(cmd.enclave, cmd.name);
      // Unassign it too, so a later policy of the same name grants nothing by surprise.
      const holders = [...e.identities.values()].filter((i) => i.policy === cmd.name);
      return [
        ...holders.map((i): Effect => ({ kind: "identity", enclave: cmd.enclave, name: i.identity, value: { ...i, policy: "" } })),
        { kind: "policy", enclave: cmd.enclave, name: cmd.name, value: null },
      ];
    }
    case "policy.assign": {
      const i = state.identity(cmd.enclave, cmd.identity);
      state.policy(cmd.enclave, cmd.policy);
      return [{ kind: "identity", enclave: cmd.enclave, name: cmd.identity, value: { ...i, policy: cmd.policy } }];
    }
    case "admin-key.set": {
      // Someone must be left who can administer the cluster.
      if (!cmd.enabled && !state.hasStoredSysAdmin()) {
        throw Errors.conflict("cannot disable the admin API key: no SysAdmin identity is stored (add one with 'kms add-identity --privilege SysAdmin' first)");
      }
      // A re-enable proof is bound to its time: one made before the last change cannot be played again.
      if (cmd.enabled && cmd.at <= state.adminKey.changedAt) {
        throw Errors.conflict("the proof is older than the last change of the admin API key: make a new one");
      }
      return [{ kind: "setting", enclave: "", name: "admin-key", value: { disabled: !cmd.enabled, changedAt: cmd.at, changedBy: cmd.by } }];
    }
  }
}

/** Installs prepared effects into the state and counts the commit. */
export function install(state: State, effects: readonly Effect[]): void {
  for (const fx of effects) {
    if (fx.kind === "setting") {
      state.adminKey = fx.value!;
      continue;
    }
    if (fx.kind === "identity" || fx.kind === "enclave") state.identitiesChanged();
    if (fx.kind === "enclave") {
      if (fx.value) state.enclaves.set(fx.name, enclaveEntry(fx.value));
      else state.enclaves.delete(fx.name);
      continue;
    }
    const map = state.enclave(fx.enclave)[MAPS[fx.kind]] as EnclaveEntry["keys" | "identities" | "policies"] as Map<string, unknown>;
    if (fx.value) map.set(fx.name, fx.value);
    else map.delete(fx.name);
  }
  state.commit++;
}

/** Applies a command: prepare, then install. Throws, changing nothing, when the command is not valid here. */
export function apply(state: State, cmd: Command): Effect[] {
  const effects = prepare(state, cmd);
  install(state, effects);
  return effects;
}
