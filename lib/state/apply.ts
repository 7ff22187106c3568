import { decodeBase64 } from "../encoding/base64.ts";
import type { Command } from "./commands.ts";
import { Errors } from "./errors.ts";
import { aliasesOf, prepareLifecycle } from "./apply-lifecycle.ts";
import type { Effect } from "./effects.ts";
import { enclaveEntry, type EnclaveEntry, State } from "./state.ts";
import type { DeletedEnclave, DeletedKey, HsmKeyRecord, IdentityRecord, KeyRing, KeyVersion, PolicyRecord } from "./types.ts";
import { MAX_KEY_VERSIONS, withVersion } from "./versions.ts";

export type { Effect };

export { MAX_KEY_VERSIONS };
/** Most HSM keys a cluster may have configured at once (each costs a seal per root key and per backup). */
export const MAX_HSM_KEYS = 16;

/** The map of an enclave that holds records of a kind. */
const MAPS = { key: "keys", identity: "identities", policy: "policies", alias: "aliases", accessKey: "accessKeys" } as const;

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
      const effects: Effect[] = [
        ...(Object.keys(MAPS) as Array<keyof typeof MAPS>).flatMap((kind) =>
          [...e[MAPS[kind]].keys()].map((name): Effect => ({ kind, enclave: cmd.name, name, value: null }))
        ),
        { kind: "enclave", enclave: cmd.name, name: cmd.name, value: null },
      ];
      if (cmd.keepUntil === undefined) return effects;
      const item: DeletedEnclave = {
        kind: "enclave", ...deletion(state, cmd.name, cmd.name, cmd), record: e.record,
        keys: [...e.keys.values()], identities: [...e.identities.values()], policies: [...e.policies.values()],
      };
      return [...effects, { kind: "deleted", enclave: "", name: String(item.id), value: item }];
    }
    case "key.create": {
      const e = state.enclave(cmd.enclave);
      const ring = e.keys.get(cmd.name);
      if (ring && !cmd.addVersion) throw Errors.keyExists();
      if (!ring && cmd.addVersion) throw Errors.keyNotFound();
      const base: KeyRing = ring ?? {
        enclave: cmd.enclave, name: cmd.name, versions: [], nextVersion: 1,
        ...(cmd.meta ? { lifecycle: { ...cmd.meta, state: "Enabled" as const, automatic: [] } } : {}),
      };
      const value = withVersion(base, { type: cmd.keyType, material: decodeBase64(cmd.material), imported: cmd.imported ?? false, createdAt: cmd.at, createdBy: cmd.by });
      return [{ kind: "key", enclave: cmd.enclave, name: cmd.name, value }];
    }
    case "key.delete": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      // With all_versions the version field is moot; otherwise it must exist.
      const doomed = cmd.allVersions ? 0 : state.keyVersion(cmd.enclave, cmd.name, cmd.version).version;
      const versions = cmd.allVersions ? [] : ring.versions.filter((v) => v.version !== doomed);
      const value = versions.length === 0 ? null : { ...ring, versions };
      // A key's aliases go with it.
      const aliases = value ? [] : aliasesOf(state, cmd.enclave, cmd.name).map((a): Effect => ({ kind: "alias", enclave: cmd.enclave, name: a.alias, value: null }));
      const effects: Effect[] = [{ kind: "key", enclave: cmd.enclave, name: cmd.name, value }, ...aliases];
      if (cmd.keepUntil === undefined) return effects;
      const gone = cmd.allVersions ? ring.versions : ring.versions.filter((v) => v.version === doomed);
      const item: DeletedKey = { kind: "key", ...deletion(state, cmd.enclave, cmd.name, cmd), ring: { ...ring, versions: gone } };
      return [...effects, { kind: "deleted", enclave: "", name: String(item.id), value: item }];
    }
    case "key.undelete": {
      const e = state.enclave(cmd.enclave);
      const items = [...state.deleted.values()].filter((d): d is DeletedKey => d.kind === "key" && d.enclave === cmd.enclave && d.name === cmd.name);
      if (items.length === 0) throw Errors.noDeletedKey();
      const ring = e.keys.get(cmd.name);
      const byNumber = new Map<number, KeyVersion>((ring?.versions ?? []).map((v) => [v.version, v]));
      for (const d of items) {
        for (const v of d.ring.versions) {
          if (byNumber.has(v.version)) {
            throw Errors.conflict(`cannot undelete key ${cmd.name}: a key of that name was created again and has version ${v.version} too; delete or rename it first`);
          }
          byNumber.set(v.version, v);
        }
      }
      if (byNumber.size > MAX_KEY_VERSIONS) throw Errors.tooManyVersions(MAX_KEY_VERSIONS);
      const value: KeyRing = {
        enclave: cmd.enclave,
        name: cmd.name,
        versions: [...byNumber.values()].sort((a, b) => a.version - b.version),
        nextVersion: Math.max(ring?.nextVersion ?? 1, ...items.map((d) => d.ring.nextVersion)),
      };
      return [
        { kind: "key", enclave: cmd.enclave, name: cmd.name, value },
        ...items.map((d): Effect => ({ kind: "deleted", enclave: "", name: String(d.id), value: null })),
      ];
    }
    case "enclave.undelete": {
      if (state.enclaves.has(cmd.name)) throw Errors.enclaveExists();
      const items = [...state.deleted.values()].filter((d): d is DeletedEnclave => d.kind === "enclave" && d.name === cmd.name);
      if (items.length === 0) throw Errors.noDeletedEnclave();
      const d = items[items.length - 1]; // the last one deleted under that name
      const at = (kind: "key" | "identity" | "policy", name: string, value: KeyRing | IdentityRecord | PolicyRecord) =>
        ({ kind, enclave: cmd.name, name, value }) as Effect;
      return [
        { kind: "enclave", enclave: cmd.name, name: cmd.name, value: d.record },
        ...d.keys.map((r) => at("key", r.name, r)),
        ...d.identities.map((i) => at("identity", i.identity, i)),
        ...d.policies.map((p) => at("policy", p.name, p)),
        { kind: "deleted", enclave: "", name: String(d.id), value: null },
      ];
    }
    case "deleted.purge":
      // Only what is still kept and due: a purge proposed twice (e.g. by two leaders in turn) purges once.
      return cmd.ids
        .filter((id) => (state.deleted.get(id)?.purgeAt ?? Infinity) <= cmd.at)
        .map((id): Effect => ({ kind: "deleted", enclave: "", name: String(id), value: null }));
    case "hsm.add": {
      if (state.hsmKeys.has(cmd.fingerprint)) throw Errors.hsmKeyExists();
      if (state.hsmKeys.size >= MAX_HSM_KEYS) throw Errors.tooManyHsmKeys(MAX_HSM_KEYS);
      const value: HsmKeyRecord = {
        fingerprint: cmd.fingerprint, publicKey: decodeBase64(cmd.publicKey),
        join: { ca: decodeBase64(cmd.joinCa), rpc: decodeBase64(cmd.joinRpc) }, createdAt: cmd.at, createdBy: cmd.by,
      };
      return [{ kind: "hsm", enclave: "", name: cmd.fingerprint, value }];
    }
    case "hsm.remove":
      if (!state.hsmKeys.has(cmd.fingerprint)) throw Errors.hsmKeyNotFound();
      if (state.hsmKeys.size === 1) throw Errors.lastHsmKey();
      return [{ kind: "hsm", enclave: "", name: cmd.fingerprint, value: null }];
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
      const gone = new Set([cmd.identity, ...owned.map((i) => i.identity)]);
      // Their access keys go with them.
      const keys = [...e.accessKeys.values()].filter((k) => gone.has(k.identity)).map((k): Effect => ({ kind: "accessKey", enclave: cmd.enclave, name: k.id, value: null }));
      return [...[...gone].map((name): Effect => ({ kind: "identity", enclave: cmd.enclave, name, value: null })), ...keys];
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
    default:
      return prepareLifecycle(state, cmd);
  }
}

/** Installs prepared effects into the state and counts the commit. */
export function install(state: State, effects: readonly Effect[]): void {
  for (const fx of effects) {
    if (fx.kind === "setting") {
      state.adminKey = fx.value!;
      continue;
    }
    if (fx.kind === "hsm") {
      if (fx.value) state.hsmKeys.set(fx.name, fx.value);
      else state.hsmKeys.delete(fx.name);
      continue;
    }
    if (fx.kind === "deleted") {
      if (fx.value) state.deleted.set(fx.value.id, fx.value);
      else state.deleted.delete(Number(fx.name));
      continue;
    }
    if (fx.kind === "identity" || fx.kind === "enclave" || fx.kind === "accessKey") state.identitiesChanged();
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

/** The bookkeeping of a deletion kept for recovery; its id is the commit number the deletion takes. */
function deletion(state: State, enclave: string, name: string, cmd: { at?: number; by?: string; keepUntil?: number }) {
  return { id: state.commit + 1, enclave, name, deletedAt: cmd.at ?? 0, deletedBy: cmd.by ?? "", purgeAt: cmd.keepUntil ?? 0 };
}
