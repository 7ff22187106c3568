/**
 * Fair turns for long requests: a 10,000-frame request is ~50 ms of work on
 * one thread, and while it runs no other connection is read. Its loops ask
 * `due()` per item and, when the slice is spent, `await pass()`: the event
 * loop then serves every other connection before the next slice. Requests
 * too small to fill a slice never read the clock.
 */
import { yieldToLoop } from "../../store/backup.ts";

/** How long one request may hold the thread before others get a turn. */
export const SLICE_MS = 1;
/** Items between clock reads: a read costs about as much as a small frame's work. */
const CHECK_EVERY = 16;

/** One request's share of the thread. */
export class TimeSlice {
  #until = 0;
  #count = 0;
  /** Turns given up so far. */
  passes = 0;

  constructor(readonly ms = SLICE_MS) {}

  /** Whether the slice is spent: the caller should `await pass()` before its next item. */
  due(): boolean {
    if (++this.#count % CHECK_EVERY !== 0) return false;
    const now = performance.now();
    // The first read starts the slice: a small request never reads the clock.
    if (this.#until === 0) this.#until = now + this.ms;
    return now >= this.#until;
  }

  /** Lets the event loop serve others, then starts a new slice. */
  async pass(): Promise<void> {
    this.passes++;
    await yieldToLoop();
    this.#until = performance.now() + this.ms;
  }
}
