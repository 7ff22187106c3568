/**
 * Metrics of the request path, kept as plain numbers per label set and
 * exported through a prom-client Registry in prom-client's own shape (so the
 * text is the same). prom-client hashes and validates the labels on every
 * call, even through a labelled child: for a one-operation request that was
 * most of what the metrics cost. Here a caller takes the series of a label
 * set once (a Map lookup by a key it builds) and then adds numbers.
 */
import type { Registry } from "prom-client";

type Labels = Readonly<Record<string, string>>;

/** One label set's numbers: a counter's or gauge's value, or a histogram's buckets, sum and count. */
export class Series {
  value = 0;
  /** Per bucket (not cumulative); histograms only. */
  readonly counts: number[];
  sum = 0;

  constructor(readonly labels: Labels, private readonly bounds: readonly number[] | undefined) {
    this.counts = bounds ? bounds.map(() => 0) : [];
  }

  /** Adds `n` to a counter or gauge (negative: a gauge going down). */
  inc(n = 1): void {
    this.value += n;
  }

  /** Counts one observation in a histogram. */
  observe(v: number): void {
    const b = this.bounds!;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        this.counts[i]++;
        break;
      }
    }
    this.sum += v;
    this.value++;
  }
}

/** A counter, gauge or histogram whose label sets are Series (see the module comment). */
export class SeriesMetric {
  readonly aggregator = "sum";
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string, readonly help: string, readonly type: "counter" | "gauge" | "histogram",
    registers: readonly Registry[], readonly buckets?: readonly number[],
  ) {
    // prom-client exports any registered object with a name and getForPromString/get.
    for (const r of registers) r.registerMetric(this as never);
  }

  /** The series found by `key` (its label values, naming the label set uniquely); `labels` is called only to make it. */
  series(key: string, labels: () => Labels): Series {
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = new Series(labels(), this.type === "histogram" ? this.buckets ?? [] : undefined)));
    return s;
  }

  /** Forgets every series (prom-client's reset). */
  reset(): void {
    this.#series.clear();
  }

  /** The values as prom-client's own metrics give them to the text format. */
  getForPromString() {
    const values: Array<{ labels: Record<string, string | number>; sharedLabels?: Labels; value: number; metricName?: string }> = [];
    for (const s of this.#series.values()) {
      if (this.type !== "histogram") {
        values.push({ labels: s.labels, value: s.value });
        continue;
      }
      let acc = 0;
      const bucket = `${this.name}_bucket`;
      this.buckets!.forEach((le, i) => values.push({ labels: { le }, sharedLabels: s.labels, value: (acc += s.counts[i]), metricName: bucket }));
      values.push(
        { labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.value, metricName: bucket },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.value, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same with each value's labels whole (prom-client's get()). */
  get() {
    const m = this.getForPromString();
    return { ...m, values: m.values.map(({ sharedLabels, labels, ...v }) => ({ ...v, labels: { ...labels, ...sharedLabels } })) };
  }
}
