/**
 * Latency histograms small enough to send between processes: log-spaced
 * buckets (about 2.5% wide) keyed by an integer, merged by adding counts.
 */

/** Bucket index → count. */
export type Histogram = Record<number, number>;

const SCALE = 40; // buckets per e-fold

/** Adds one latency in milliseconds. */
export function record(h: Histogram, ms: number): void {
  const b = Math.round(Math.log(Math.max(ms, 0.001) * 1000) * SCALE);
  h[b] = (h[b] ?? 0) + 1;
}

/** Adds every count of `from` into `into`. */
export function merge(into: Histogram, from: Histogram): Histogram {
  for (const [b, n] of Object.entries(from)) into[Number(b)] = (into[Number(b)] ?? 0) + n;
  return into;
}

/** The p-th percentile (0–100) in milliseconds, or NaN for an empty histogram. */
export function percentile(h: Histogram, p: number): number {
  const buckets = Object.keys(h).map(Number).sort((a, b) => a - b);
  const total = buckets.reduce((s, b) => s + h[b], 0);
  if (total === 0) return NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const b of buckets) {
    seen += h[b];
    if (seen >= rank) return Math.exp(b / SCALE) / 1000;
  }
  return Math.exp(buckets[buckets.length - 1] / SCALE) / 1000;
}
