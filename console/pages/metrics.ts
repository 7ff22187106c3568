/**
 * Live metrics from this node's Prometheus endpoint (GET /v1/health/metrics,
 * read through the console as the signed-in identity): operations per
 * second by command, errors, and latency p50/p99, every few seconds.
 */
import { ApiError } from "../api.ts";
import { lineChart, type Series } from "../chart.ts";
import { fill, h } from "../dom.ts";
import { parseMetrics, quantile, type Sample } from "../prom.ts";
import { errorBox, loading } from "../ui.ts";

/** Seconds between scrapes, and how many points a chart keeps (five minutes). */
const EVERY_MS = 5_000;
const POINTS = 60;

/** Why a page cannot show data yet: the endpoint is missing on this server, or an error. */
export class Unavailable extends Error {}

/** Fetches a console API path as text; 404 means the feature is not on this server. */
export async function fetchText(path: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(`/console/api${path}`, { credentials: "same-origin", cache: "no-store", signal });
  if (res.status === 404) throw new Unavailable();
  if (!res.ok) {
    const body = await res.json().catch(() => ({})) as { message?: string };
    throw new ApiError(res.status, body.message ?? `HTTP ${res.status}`);
  }
  return res;
}

interface Scrape {
  readonly at: number;
  readonly samples: Sample[];
}

/** Counter totals by command, and failures, from one scrape. */
function counters(samples: Sample[]): { ops: Map<string, number>; errors: number } {
  const ops = new Map<string, number>();
  let errors = 0;
  for (const x of samples) {
    const command = x.labels.command;
    if (!command || !x.name.endsWith("_total")) continue;
    ops.set(command, (ops.get(command) ?? 0) + x.value);
    const outcome = x.labels.outcome ?? x.labels.status ?? x.labels.code ?? "";
    if (outcome && !/^(ok|success|2\d\d)$/i.test(outcome)) errors += x.value;
  }
  return { ops, errors };
}

/** Cumulative request-duration buckets (seconds) from one scrape. */
function buckets(samples: Sample[]): Map<number, number> {
  const names = [...new Set(samples.filter((x) => x.name.endsWith("_bucket") && x.labels.le).map((x) => x.name))];
  const name = names.find((n) => /request.*duration|duration.*request/.test(n)) ?? names.find((n) => /duration/.test(n));
  const out = new Map<number, number>();
  for (const x of samples) {
    if (x.name !== name) continue;
    const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
    out.set(le, (out.get(le) ?? 0) + x.value);
  }
  return out;
}

export function metricsPage(main: HTMLElement): () => void {
  const view = h("div", { class: "charts" });
  const status = h("div", { "aria-live": "polite" }, loading("Reading metrics…"));
  const scrapes: Scrape[] = [];
  const opsSeries = new Map<string, Array<number | undefined>>();
  const errorSeries: Array<number | undefined> = [];
  const p50: Array<number | undefined> = [], p99: Array<number | undefined> = [];
  const push = <T>(a: T[], v: T) => {
    a.push(v);
    if (a.length > POINTS) a.shift();
  };
  let stopped = false;
  const controller = new AbortController();

  const tick = async () => {
    try {
      const text = await (await fetchText("/metrics", controller.signal)).text();
      const now: Scrape = { at: Date.now(), samples: parseMetrics(text) };
      const prev = scrapes[scrapes.length - 1];
      scrapes.push(now);
      if (scrapes.length > 2) scrapes.shift();
      if (prev) {
        const dt = (now.at - prev.at) / 1000;
        const a = counters(prev.samples), b = counters(now.samples);
        for (const [cmd, total] of b.ops) {
          if (!opsSeries.has(cmd)) opsSeries.set(cmd, []);
          push(opsSeries.get(cmd)!, Math.max(0, (total - (a.ops.get(cmd) ?? 0)) / dt));
        }
        push(errorSeries, Math.max(0, (b.errors - a.errors) / dt));
        const ba = buckets(prev.samples), bb = buckets(now.samples);
        const delta = [...bb].map(([le, count]) => ({ le, count: count - (ba.get(le) ?? 0) }));
        const ms = (q: number) => {
          const v = quantile(q, delta);
          return v === undefined ? undefined : v * 1000;
        };
        push(p50, ms(0.5));
        push(p99, ms(0.99));
      }
      const busiest = [...opsSeries].sort((x, y) => (y[1].at(-1) ?? 0) - (x[1].at(-1) ?? 0)).slice(0, 5);
      fill(status, h("p", { class: "muted", role: "status" }, prev ? `This node, updated every ${EVERY_MS / 1000} s.` : "Collecting a second sample to compute rates…"));
      fill(view,
        lineChart("Operations per second, by command", "ops/s", busiest.map(([name, values]): Series => ({ name, values })), POINTS),
        lineChart("Latency", "ms", [{ name: "p50", values: p50 }, { name: "p99", values: p99 }], POINTS),
        lineChart("Errors per second", "errors/s", [{ name: "errors", values: errorSeries }], POINTS));
    } catch (err) {
      if (stopped || (err as Error).name === "AbortError") return;
      if (err instanceof Unavailable) {
        stopped = true;
        clearInterval(timer);
        fill(status, h("div", { class: "status info", role: "status", "data-testid": "unavailable" },
          h("strong", null, "Metrics are not available on this server."),
          h("p", null, "This node does not serve /v1/health/metrics (a kms version without metrics).")));
        view.replaceChildren();
        return;
      }
      fill(status, errorBox(err));
    }
  };
  const timer = setInterval(() => void tick(), EVERY_MS);
  void tick();
  fill(main, h("h1", null, "Metrics"), status, view);
  return () => {
    stopped = true;
    clearInterval(timer);
    controller.abort();
  };
}
