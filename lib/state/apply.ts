import { decodeBase64 } from "./base64.ts";
import type { Command } from "./commands.ts";
import { Errors } from "./errors.ts";
import { State } from "./state.ts";
import type { KeyRing } from "./types.ts";

/** One record to write (or delete, when `value` is null) to make a command durable. */
export type Effect =
  | { readonly kind: "enclave"; readonly name: string; readonly value: import("./types.ts").EnclaveRecord | null }
  | { readonly kind: "key"; readonly enclave: string; readonly name: string; readonly value: KeyRing | null };

/**
 * Checks a command against the state and computes its effects without changing
 * anything: a command that fails here changes nothing, in memory or on disk.
 */
export function prepare(state: State, cmd: Command): Effect[] {
  switch (cmd.type) {
    case "enclave.create":
      if (state.enclaves.has(cmd.name)) throw Errors.enclaveExists();
      return [{ kind: "enclave", name: cmd.name, value: { name: cmd.name, createdAt: cmd.at, createdBy: cmd.by } }];
    case "enclave.delete": {
      const e = state.enclave(cmd.name);
      const keys: Effect[] = [...e.keys.keys()].map((k) => ({ kind: "key", enclave: cmd.name, name: k, value: null }));
      return [...keys, { kind: "enclave", name: cmd.name, value: null }];
    }
    case "key.create": {
      const e = state.enclave(cmd.enclave);
      const ring = e.keys.get(cmd.name);
      if (ring && !cmd.addVersion) throw Errors.keyExists();
      if (!ring && cmd.addVersion) throw Errors.keyNotFound();
      const number = ring?.nextVersion ?? 1;
      const version = { version: number, type: cmd.keyType, material: decodeBase64(cmd.material), createdAt: cmd.at, createdBy: cmd.by };
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
      const doomed = state.keyVersion(cmd.enclave, cmd.name, cmd.version).version;
      const versions = cmd.allVersions ? [] : ring.versions.filter((v) => v.version !== doomed);
      const value = versions.length === 0 ? null : { ...ring, versions };
      return [{ kind: "key", enclave: cmd.enclave, name: cmd.name, value }];
    }
  }
}

/** Installs prepared effects into the state and counts the commit. */
export function install(state: State, effects: readonly Effect[]): void {
  for (const fx of effects) {
    if (fx.kind === "enclave") {
      if (fx.value) state.enclaves.set(fx.name, { record: fx.value, keys: new Map() });
      else state.enclaves.delete(fx.name);
    } else {
      const keys = state.enclave(fx.enclave).keys;
      if (fx.value) keys.set(fx.name, fx.value);
      else keys.delete(fx.name);
    }
  }
  state.commit++;
}

/** Applies a command: prepare, then install. Throws, changing nothing, when the command is not valid here. */
export function apply(state: State, cmd: Command): Effect[] {
  const effects = prepare(state, cmd);
  install(state, effects);
  return effects;
}
