/** Time as the driver sees it: the real clock in a server, a stepped one in the simulator. */
export interface Clock {
  /** Milliseconds since some fixed point. */
  now(): number;
  /** Calls `fn` every `ms`; returns a function that stops it. */
  every(ms: number, fn: () => void): () => void;
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** The runtime's clock and timers. */
export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** A clock that moves only when told to (tick): the simulator's, one per node. */
export class SteppedClock implements Clock {
  #now = 0;
  #period = 0;
  #tick: (() => void) | undefined;
  #timers: Array<{ at: number; fn: () => void }> = [];

  now(): number {
    return this.#now;
  }

  every(ms: number, fn: () => void): () => void {
    this.#period = ms;
    this.#tick = fn;
    return () => (this.#tick = undefined);
  }

  after(ms: number, fn: () => void): () => void {
    const t = { at: this.#now + ms, fn };
    this.#timers.push(t);
    return () => (this.#timers = this.#timers.filter((x) => x !== t));
  }

  /** One period passes: the periodic callback runs, then every timer now due. */
  tick(): void {
    this.#now += this.#period || 1;
    this.#tick?.();
    const due = this.#timers.filter((t) => t.at <= this.#now);
    this.#timers = this.#timers.filter((t) => t.at > this.#now);
    for (const t of due) t.fn();
  }
}
