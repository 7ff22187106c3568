/**
 * An enclave's key rings: a SortedMap (listing) that also indexes the names
 * of the rings with a lifecycle (a state, rotation, deletion date or tags).
 * The leader's due jobs (purges, automatic rotations) look at those every
 * 500 ms; without the index each round walked every key, 20–80 ms per round
 * at 200,000 keys, most of a core at a million.
 */
import { SortedMap } from "./sorted-map.ts";
import type { KeyRing } from "./types.ts";

export class KeyRings extends SortedMap<KeyRing> {
  readonly #managed = new Set<string>();

  override set(name: string, ring: KeyRing): this {
    if (ring.lifecycle) this.#managed.add(name);
    else this.#managed.delete(name);
    return super.set(name, ring);
  }

  override delete(name: string): boolean {
    this.#managed.delete(name);
    return super.delete(name);
  }

  override clear(): void {
    this.#managed.clear();
    super.clear();
  }

  /** The rings that have a lifecycle, by name, in no particular order. */
  *managed(): Generator<[string, KeyRing]> {
    for (const name of this.#managed) yield [name, super.get(name)!];
  }
}
