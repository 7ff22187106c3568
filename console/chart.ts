/** Line charts drawn as SVG by the page (no charting library, nothing fetched). */
import { h, s } from "./dom.ts";

/** A named series of values, oldest first. */
export interface Series {
  readonly name: string;
  readonly values: ReadonlyArray<number | undefined>;
}

const W = 400, H = 160, PAD = { l: 44, r: 8, t: 8, b: 18 };

function fmt(n: number): string {
  if (n === 0) return "0";
  if (Math.abs(n) >= 1000) return `${(n / 1000).toFixed(1)}k`;
  if (Math.abs(n) < 0.01) return n.toExponential(0);
  return Number(n.toPrecision(3)).toString();
}

/** A chart with a caption, axes, one line per series and a legend giving each series' latest value. */
export function lineChart(title: string, unit: string, series: readonly Series[], points: number): HTMLElement {
  const all = series.flatMap((x) => x.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const max = Math.max(1e-9, ...all) * 1.1;
  const x = (i: number) => PAD.l + (i * (W - PAD.l - PAD.r)) / Math.max(1, points - 1);
  const y = (v: number) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const lines = series.map((ser, k) => {
    const offset = points - ser.values.length;
    let d = "";
    ser.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) return;
      d += `${d ? "L" : "M"}${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`;
    });
    return s("path", { class: `line s${k % 5}`, d });
  });
  const grid = [0.25, 0.5, 0.75, 1].map((f) => [
    s("line", { class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y(max * f / 1.1), y2: y(max * f / 1.1) }),
    s("text", { class: "tick", x: PAD.l - 4, y: y(max * f / 1.1) + 3, "text-anchor": "end" }, fmt(max * f / 1.1)),
  ]);
  const latest = (ser: Series) => {
    const v = [...ser.values].reverse().find((n) => n !== undefined);
    return v === undefined ? "-" : `${fmt(v)} ${unit}`;
  };
  return h("figure", { class: "chart" },
    h("figcaption", null, title),
    s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${series.map((ser) => `${ser.name} ${latest(ser)}`).join(", ") || "no data"}` },
      grid,
      s("line", { class: "axis", x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }),
      s("line", { class: "axis", x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: H - PAD.b }),
      s("text", { class: "tick", x: PAD.l - 4, y: H - PAD.b + 3, "text-anchor": "end" }, "0"),
      lines),
    h("div", { class: "legend" }, series.length
      ? series.map((ser, k) => h("span", { class: `k${k % 5}` }, `■ ${ser.name}: ${latest(ser)}`))
      : h("span", { class: "muted" }, "no data yet")));
}
