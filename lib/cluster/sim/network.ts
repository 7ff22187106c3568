/**
 * A simulated network: every message is delayed by a random number of steps
 * (which reorders them), may be dropped or duplicated, and never crosses a
 * partition. All choices come from the run's PRNG.
 */
import type { Prng } from "../prng.ts";
import type { Message } from "../types.ts";

/** Fault rates of the network, changeable during a run. */
export interface NetFaults {
  drop: number;
  dup: number;
  delayMax: number;
}

/** Most messages in flight at once (beyond that, new ones are dropped, like a full socket buffer). */
export const MAX_IN_FLIGHT = 20_000;

/** Messages in flight between simulated nodes. */
export class SimNetwork<C> {
  #flight: { at: number; m: Message<C> }[] = [];
  /** Cut links, as "from>to": messages on them are lost. */
  #cut = new Set<string>();
  sent = 0;
  delivered = 0;
  dropped = 0;

  readonly #rng: Prng;
  /** Current fault rates. */
  faults: NetFaults;

  /** A network drawing from `rng`, with the given fault rates. */
  constructor(rng: Prng, faults: NetFaults) {
    this.#rng = rng;
    this.faults = faults;
  }

  /** True if a message from a to b can currently get through. */
  connected(a: number, b: number): boolean {
    return this.#cut.size === 0 || !this.#cut.has(`${a}>${b}`);
  }

  /** Hands a message to the network at step `now`. */
  send(m: Message<C>, now: number): void {
    this.sent++;
    if (!this.connected(m.from, m.to) || this.#rng.chance(this.faults.drop) || this.#flight.length >= MAX_IN_FLIGHT) {
      this.dropped++;
      return;
    }
    this.#flight.push({ at: now + 1 + this.#rng.int(this.faults.delayMax), m });
    if (this.#rng.chance(this.faults.dup)) this.#flight.push({ at: now + 1 + this.#rng.int(this.faults.delayMax * 2), m });
  }

  /** Messages due at step `now`, in random order; those crossing a partition are lost. */
  due(now: number): Message<C>[] {
    const out: Message<C>[] = [];
    const keep: { at: number; m: Message<C> }[] = [];
    for (const f of this.#flight) {
      if (f.at > now) keep.push(f);
      else if (this.connected(f.m.from, f.m.to)) out.push(f.m);
      else this.dropped++;
    }
    this.#flight = keep;
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.#rng.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    this.delivered += out.length;
    return out;
  }

  /** Splits `ids` into groups (absent ids are in group 0): no message crosses groups. */
  partition(ids: readonly number[], groups: ReadonlyMap<number, number>): void {
    this.#cut.clear();
    for (const a of ids) {
      for (const b of ids) if ((groups.get(a) ?? 0) !== (groups.get(b) ?? 0)) this.#cut.add(`${a}>${b}`);
    }
  }

  /** Cuts one direction only: `id` can no longer send (out) or no longer receive (in). */
  cutOneWay(ids: readonly number[], id: number, dir: "in" | "out"): void {
    this.#cut.clear();
    for (const o of ids) if (o !== id) this.#cut.add(dir === "out" ? `${id}>${o}` : `${o}>${id}`);
  }

  /** Ends every partition. */
  heal(): void {
    this.#cut.clear();
  }

  /** True if some link is cut. */
  get partitioned(): boolean {
    return this.#cut.size > 0;
  }

  /** Number of messages in flight. */
  get inFlight(): number {
    return this.#flight.length;
  }
}
