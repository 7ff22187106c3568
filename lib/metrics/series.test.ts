import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SeriesMetric } from "./series.ts";

test("series metrics export the same text as prom-client's own for the same observations", async () => {
  const ours = new Registry(), theirs = new Registry();
  const buckets = [0.001, 0.01, 1];
  const c = new SeriesMetric("t_requests_total", "Requests.", "counter", [ours]);
  const g = new SeriesMetric("t_in_flight", "In flight.", "gauge", [ours]);
  const h = new SeriesMetric("t_seconds", "Seconds.", "histogram", [ours], buckets);
  const pc = new Counter({ name: "t_requests_total", help: "Requests.", labelNames: ["api", "code"], registers: [theirs] });
  const pg = new Gauge({ name: "t_in_flight", help: "In flight.", labelNames: ["api"], registers: [theirs] });
  const ph = new Histogram({ name: "t_seconds", help: "Seconds.", labelNames: ["api"], buckets, registers: [theirs] });
  for (const [api, code, seconds] of [["native", "200", 0.0004], ["native", "200", 0.5], ["kes", "404", 2], ["native", "403", 0.01]] as const) {
    c.series(`${api}|${code}`, () => ({ api, code })).inc();
    pc.inc({ api, code });
    h.series(api, () => ({ api })).observe(seconds);
    ph.observe({ api }, seconds);
    g.series(api, () => ({ api })).inc(1);
    pg.inc({ api }, 1);
  }
  g.series("native", () => ({ api: "native" })).inc(-1);
  pg.inc({ api: "native" }, -1);
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /t_seconds_bucket\{le="0.01",api="native"\} 2\n/);
});

test("a label set's series is made once and then reused", () => {
  const m = new SeriesMetric("t_total", "T.", "counter", []);
  let made = 0;
  const labels = () => (made++, { api: "native" });
  for (let i = 0; i < 5; i++) m.series("native", labels).inc();
  assert.equal(made, 1);
  assert.equal(m.series("native", labels).value, 5);
});
