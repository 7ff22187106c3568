/** A progress bar on standard error, drawn only when it is a terminal (never into a pipe or a log). */

/** Counts bytes and redraws at most ten times a second; `done()` clears the line. */
export class Progress {
  readonly #label: string;
  #total: number;
  #bytes = 0;
  #drawn = 0;
  readonly #start = Date.now();
  readonly #on: boolean;

  /** `total`: the expected byte count (an estimate is fine: the bar stops short of 100% until done). */
  constructor(label: string, total: number, enabled = process.stderr.isTTY === true) {
    this.#label = label;
    this.#total = Math.max(1, total);
    this.#on = enabled;
  }

  /** Adds `n` bytes. */
  add(n: number): void {
    this.#bytes += n;
    if (!this.#on || Date.now() - this.#drawn < 100) return;
    this.#drawn = Date.now();
    const ratio = Math.min(0.99, this.#bytes / this.#total);
    const width = 30, filled = Math.round(ratio * width);
    const mb = this.#bytes / 1e6, secs = Math.max(0.001, (Date.now() - this.#start) / 1000);
    process.stderr.write(`\r${this.#label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${mb.toFixed(1)} MB  ${(mb / secs).toFixed(1)} MB/s `);
  }

  /** Bytes counted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Seconds since the start. */
  get seconds(): number {
    return (Date.now() - this.#start) / 1000;
  }

  /** Clears the bar's line. */
  done(): void {
    if (this.#on && this.#drawn) process.stderr.write("\r\x1b[2K");
  }
}
