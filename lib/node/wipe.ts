/**
 * Zeroing the key material a node drops for good (a purge, or a deletion
 * with no recovery window) and all of it at shutdown. Only the byte arrays
 * can be zeroed: JavaScript strings (JSON records, log entries in memory) are
 * immutable and left to the garbage collector. A running backup may still be
 * reading the arrays it captured, so wiping waits until none runs.
 */
import type { Command } from "../state/commands.ts";
import { KeyRings } from "../state/key-rings.ts";
import type { State } from "../state/state.ts";
import type { KeyRing } from "../state/types.ts";

const materialOf = (rings: Iterable<KeyRing>) => [...rings].flatMap((r) => r.versions.map((v) => v.material));

/** The key material `cmd` drops for good when it applies to `state` (before it is applied). */
export function removedMaterial(state: State, cmd: Command): Uint8Array[] {
  switch (cmd.type) {
    case "key.delete": {
      const keys = state.enclaves.get(cmd.enclave)?.keys;
      const ring = keys?.get(cmd.name); // parsed: the bytes it was read from at start are not read again
      if (!ring) return [];
      // Those bytes hold every version's material, which lives on (if at all) in the parsed ring.
      const read = keys instanceof KeyRings ? keys.recordBytesOf(cmd.name) : [];
      if (cmd.keepUntil !== undefined) return read;
      return [...read, ...materialOf([{ ...ring, versions: ring.versions.filter((v) => cmd.allVersions || v.version === cmd.version || (cmd.version === 0 && v === ring.versions.at(-1))) }])];
    }
    case "enclave.delete": {
      const keys = state.enclaves.get(cmd.name)?.keys;
      if (!keys) return [];
      const rings = [...keys.values()]; // parsed, as above
      const read = keys instanceof KeyRings ? keys.recordBytes() : [];
      return cmd.keepUntil !== undefined ? [...read] : [...read, ...materialOf(rings)];
    }
    case "deleted.purge":
      return cmd.ids.flatMap((id) => {
        const d = state.deleted.get(id);
        if (!d || d.purgeAt > cmd.at) return [];
        return materialOf(d.kind === "key" ? [d.ring] : d.keys);
      });
    default:
      return [];
  }
}

/** Every key material array of a state (at shutdown). */
export function allMaterial(state: State): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const e of state.enclaves.values()) {
    if (!(e.keys instanceof KeyRings)) {
      out.push(...materialOf(e.keys.values()));
      continue;
    }
    // Rings never used are still their record's bytes (material in base64): zero those, parse nothing.
    out.push(...e.keys.recordBytes());
    for (const held of e.keys.held()) if (!(held instanceof Uint8Array)) out.push(...materialOf([held]));
    out.push(...materialOf(e.keys.cached()), ...e.keys.dropped());
  }
  for (const d of state.deleted.values()) out.push(...materialOf(d.kind === "key" ? [d.ring] : d.keys));
  return out;
}

/**
 * Zeroes arrays now, or once every reader that began before they were given
 * up is done: a backup, or a request that looked a key up before an await.
 * A reader that began later cannot reach them (the state no longer holds
 * them), so it does not delay them: readers that overlap without end never
 * keep material alive.
 */
export class Wiper {
  /** Readers by the epoch they began in (in increasing order: the first is the oldest). */
  readonly #readers = new Map<number, number>();
  #epoch = 0;
  /** Arrays given up in an epoch, waiting for the readers that began in it or before. */
  readonly #later: { epoch: number; arrays: readonly Uint8Array[] }[] = [];
  /** Arrays for wipeSoon(), and the timer that hands them to wipe(). */
  #soon: Uint8Array[] = [];
  #soonTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * wipe(), from a task of its own: the caller's synchronous code may still
   * use the arrays (a ring evicted from a cache by the lookup after it, in
   * the same request), and readers are counted at the wipe.
   */
  wipeSoon(arrays: readonly Uint8Array[]): void {
    if (arrays.length === 0) return;
    for (const a of arrays) this.#soon.push(a);
    this.#soonTimer ??= setTimeout(() => {
      this.#soonTimer = undefined;
      const soon = this.#soon;
      this.#soon = [];
      this.wipe(soon);
    }, 0);
  }

  /** Zeroes `arrays` now, or after the readers that may hold them finish. */
  wipe(arrays: readonly Uint8Array[]): void {
    // Called from a task of its own (an apply, a stop): what wipeSoon() holds may go with it.
    if (this.#soon.length > 0) {
      arrays = [...arrays, ...this.#soon];
      this.#soon = [];
    }
    if (this.#readers.size === 0) {
      for (const a of arrays) a.fill(0);
      return;
    }
    this.#later.push({ epoch: this.#epoch, arrays: [...arrays] });
    this.#epoch++; // readers from now on cannot reach these
  }

  /** A reader (a backup, a request) starts; call the returned function when it is done. */
  hold(): () => void {
    const epoch = this.#epoch;
    this.#readers.set(epoch, (this.#readers.get(epoch) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = this.#readers.get(epoch)! - 1;
      if (left === 0) this.#readers.delete(epoch);
      else this.#readers.set(epoch, left);
      const oldest = this.#readers.keys().next().value ?? Infinity;
      while (this.#later.length > 0 && this.#later[0].epoch < oldest) for (const a of this.#later.shift()!.arrays) a.fill(0);
    };
  }
}
