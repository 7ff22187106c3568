/**
 * apply() for the lifecycle commands (lifecycle.ts): key states, deletion
 * schedules and purges, rotation, tags, aliases and access keys. Like the
 * rest of apply, deterministic: times and fresh material travel in the
 * command. `key.purge` and `key.rotate` with `due` are conditional on the
 * state at the command's own time, so the same job proposed twice (a leader
 * change before the first was applied) does its work once: the second finds
 * nothing due and changes nothing.
 */
import { decodeBase64 } from "../encoding/base64.ts";
import type { Effect } from "./effects.ts";
import { Errors } from "./errors.ts";
import { DAY_MS, type KeyLifecycle, lifecycleOf, type LifecycleCommand, purgeDue, rotationDue } from "./lifecycle.ts";
import type { State } from "./state.ts";
import type { KeyRing } from "./types.ts";
import { withVersion } from "./versions.ts";

/** The aliases that point at key `name` of `enclave`. */
export function aliasesOf(state: State, enclave: string, name: string) {
  return [...(state.enclaves.get(enclave)?.aliases.values() ?? [])].filter((a) => a.key === name);
}

/** The effect of replacing a ring's lifecycle. */
function withLifecycle(ring: KeyRing, lc: KeyLifecycle): Effect {
  return { kind: "key", enclave: ring.enclave, name: ring.name, value: { ...ring, lifecycle: lc } };
}

/** A PendingDeletion key takes no lifecycle change but cancelling (AWS: KMSInvalidStateException). */
function notPending(lc: KeyLifecycle): void {
  if (lc.state === "PendingDeletion") throw Errors.keyPendingDeletion();
}

/** Checks a lifecycle command against the state and computes its effects. */
export function prepareLifecycle(state: State, cmd: LifecycleCommand): Effect[] {
  switch (cmd.type) {
    case "key.set-state": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      notPending(lc);
      return [withLifecycle(ring, { ...lc, state: cmd.enabled ? "Enabled" : "Disabled" })];
    }
    case "key.schedule-deletion": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      notPending(lc);
      return [withLifecycle(ring, { ...lc, state: "PendingDeletion", deletion: { at: cmd.at + cmd.windowDays * DAY_MS, windowDays: cmd.windowDays } })];
    }
    case "key.cancel-deletion": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      if (lc.state !== "PendingDeletion") throw Errors.invalidKeyState("key is not pending deletion");
      const { deletion: _, ...rest } = lc;
      return [withLifecycle(ring, { ...rest, state: "Disabled" })];
    }
    case "key.purge": {
      const ring = state.enclaves.get(cmd.enclave)?.keys.get(cmd.name);
      if (!ring || !purgeDue(lifecycleOf(ring), cmd.at)) return []; // cancelled, or purged already
      return [
        { kind: "key", enclave: cmd.enclave, name: cmd.name, value: null },
        ...aliasesOf(state, cmd.enclave, cmd.name).map((a): Effect => ({ kind: "alias", enclave: cmd.enclave, name: a.alias, value: null })),
      ];
    }
    case "key.rotation": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      notPending(lc);
      if (lc.state === "Disabled") throw Errors.keyDisabled();
      if (lc.usage !== "ENCRYPT_DECRYPT") throw Errors.unsupportedOperation("automatic rotation is for encryption keys only");
      const { rotation: _, ...rest } = lc;
      return [withLifecycle(ring, cmd.periodDays > 0 ? { ...rest, rotation: { periodDays: cmd.periodDays, since: cmd.at } } : rest)];
    }
    case "key.rotate": {
      if (cmd.due) {
        const ring = state.enclaves.get(cmd.enclave)?.keys.get(cmd.name);
        // Rotated already (by this job proposed before), or no longer due: nothing to do.
        if (!ring || !rotationDue(lifecycleOf(ring), cmd.at)) return [];
      }
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      notPending(lc);
      if (lc.state === "Disabled") throw Errors.keyDisabled();
      if (lc.usage !== "ENCRYPT_DECRYPT") throw Errors.unsupportedOperation("rotation is for encryption keys only");
      const latest = ring.versions[ring.versions.length - 1];
      const next = withVersion(ring, { type: latest?.type ?? "AES256", material: decodeBase64(cmd.material), imported: false, createdAt: cmd.at, createdBy: cmd.by });
      const automatic = cmd.due ? [...lc.automatic, ring.nextVersion] : lc.automatic;
      // An automatic rotation restarts the period; one on demand leaves the schedule alone.
      const rotation = cmd.due && lc.rotation ? { ...lc.rotation, since: cmd.at } : lc.rotation;
      return [withLifecycle(next, { ...lc, automatic, ...(rotation ? { rotation } : {}) })];
    }
    case "key.tag": {
      const ring = state.keyRing(cmd.enclave, cmd.name);
      const lc = lifecycleOf(ring);
      notPending(lc);
      const tags: Record<string, string> = { ...lc.tags, ...cmd.set };
      for (const k of cmd.remove) delete tags[k];
      if (Object.keys(tags).length > 50) throw Errors.invalidTag("a key holds at most 50 tags");
      return [withLifecycle(ring, { ...lc, tags })];
    }
    case "alias.set": {
      const e = state.enclave(cmd.enclave);
      const old = e.aliases.get(cmd.alias);
      if (cmd.create && old) throw Errors.aliasExists();
      if (!cmd.create && !old) throw Errors.aliasNotFound();
      notPending(lifecycleOf(state.keyRing(cmd.enclave, cmd.key)));
      const value = { enclave: cmd.enclave, alias: cmd.alias, key: cmd.key, createdAt: old?.createdAt ?? cmd.at, updatedAt: cmd.at };
      return [{ kind: "alias", enclave: cmd.enclave, name: cmd.alias, value }];
    }
    case "alias.delete": {
      if (!state.enclave(cmd.enclave).aliases.has(cmd.alias)) throw Errors.aliasNotFound();
      return [{ kind: "alias", enclave: cmd.enclave, name: cmd.alias, value: null }];
    }
    case "access-key.create": {
      state.identity(cmd.enclave, cmd.identity);
      if (state.accessKey(cmd.id)) throw Errors.accessKeyExists();
      const value = { enclave: cmd.enclave, id: cmd.id, identity: cmd.identity, sealed: cmd.sealed, createdAt: cmd.at, createdBy: cmd.by };
      return [{ kind: "accessKey", enclave: cmd.enclave, name: cmd.id, value }];
    }
    case "access-key.delete": {
      if (!state.enclave(cmd.enclave).accessKeys.has(cmd.id)) throw Errors.accessKeyNotFound();
      return [{ kind: "accessKey", enclave: cmd.enclave, name: cmd.id, value: null }];
    }
  }
}
