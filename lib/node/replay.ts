/**
 * Refuses replayed node-to-node calls: every call carries a fresh random nonce
 * and the sender's clock; a call outside the time window, or whose nonce was
 * already seen inside it, is refused. Nonces are remembered only as long as
 * the window could still admit them, so memory follows the call rate.
 */

/** Why a call was refused, or "ok". */
export type Admission = "ok" | "stale" | "replayed";

/** A window of accepted nonces. */
export class ReplayGuard {
  readonly #windowMs: number;
  /** nonce → when it stops mattering; insertion order is roughly expiry order. */
  readonly #seen = new Map<string, number>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Admits a call sent at `at` (the sender's ms clock) with `nonce`, at local time `now`. */
  admit(nonce: string, at: number, now: number): Admission {
    this.#forget(now);
    if (!(Math.abs(now - at) <= this.#windowMs)) return "stale";
    if (this.#seen.has(nonce)) return "replayed";
    // Remember it until `at` leaves the window (the later of the two clocks, to be safe).
    this.#seen.set(nonce, Math.max(at, now) + this.#windowMs);
    return "ok";
  }

  /** How many nonces are remembered. */
  get size(): number {
    return this.#seen.size;
  }

  #forget(now: number): void {
    for (const [nonce, until] of this.#seen) {
      if (until >= now) break;
      this.#seen.delete(nonce);
    }
  }
}
