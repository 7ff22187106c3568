/**
 * A small seeded pseudo-random generator (SplitMix32 to spread the seed,
 * then a 128-bit small-fast-counter generator). Deterministic on every
 * runtime, so a seed reproduces a whole simulated run.
 */

/** Seeded PRNG: every random choice of a simulation comes from one of these. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator for `seed` (any safe integer). */
  constructor(seed: number) {
    let s = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    const mix = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Next uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element (the array must not be empty). */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** A new generator seeded from this one (for an independent stream, e.g. one per node). */
  fork(): Prng {
    return new Prng(this.next() * 0x100000 + this.int(0x100000));
  }
}
