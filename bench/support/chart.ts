/**
 * A small hand-written SVG of a run: key creates/s against writers (one line
 * per cluster size) and GENERATE throughput against keys held, beside its
 * ceilings. No chart library: a few rectangles, lines and labels.
 */
import { num } from "./report.ts";
import type { Row } from "./report.ts";

const W = 360, H = 240, PAD = { left: 66, right: 16, top: 36, bottom: 40 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A panel's frame: title, axes, and a y scale from 0 to max with four grid lines. */
function frame(x0: number, title: string, yLabel: string, max: number): { svg: string; y: (v: number) => number } {
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH * (1 - v / max);
  let svg = `<g transform="translate(${x0},0)"><text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`;
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg += `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>` +
      `<text x="${PAD.left - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10">${esc(num(v))}</text>`;
  }
  svg += `<text transform="translate(10,${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="10">${esc(yLabel)}</text>`;
  return { svg, y };
}

/** Lines over categorical x positions. */
function linePanel(x0: number, title: string, yLabel: string, xs: string[], series: { name: string; values: (number | undefined)[] }[]): string {
  const max = niceMax(series.flatMap((s) => s.values.filter((v): v is number => v !== undefined)));
  const { svg, y } = frame(x0, title, yLabel, max);
  const step = (W - PAD.left - PAD.right) / Math.max(1, xs.length - 1 + 1);
  const x = (i: number) => PAD.left + step * (i + 0.5);
  let out = svg;
  xs.forEach((label, i) => (out += `<text x="${x(i)}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="10">${esc(label)}</text>`));
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (v === undefined ? undefined : [x(i), y(v)] as const)).filter((p) => p !== undefined);
    out += `<polyline fill="none" stroke="${COLORS[k]}" stroke-width="2" points="${pts.map((p) => p.join(",")).join(" ")}"/>`;
    for (const [px, py] of pts) out += `<circle cx="${px}" cy="${py}" r="3" fill="${COLORS[k]}"/>`;
    s.values.forEach((v, i) => v !== undefined && (out += `<text x="${x(i) + 4}" y="${y(v) - 5}" font-size="9" fill="${COLORS[k]}">${esc(num(v))}</text>`));
    out += `<text x="${PAD.left + 4 + k * 90}" y="${H - 8}" font-size="10" fill="${COLORS[k]}">● ${esc(s.name)}</text>`;
  });
  return `${out}</g>`;
}

/** Bars, one per labelled value. */
function barPanel(x0: number, title: string, yLabel: string, bars: { label: string; value: number | undefined }[]): string {
  const shown = bars.filter((b): b is { label: string; value: number } => b.value !== undefined && Number.isFinite(b.value));
  const max = niceMax(shown.map((b) => b.value));
  const { svg, y } = frame(x0, title, yLabel, max);
  const step = (W - PAD.left - PAD.right) / Math.max(1, shown.length);
  let out = svg;
  shown.forEach((b, i) => {
    const x = PAD.left + step * i + step * 0.15;
    out += `<rect x="${x}" y="${y(b.value)}" width="${step * 0.7}" height="${y(0) - y(b.value)}" fill="${COLORS[i % COLORS.length]}"/>` +
      `<text x="${x + step * 0.35}" y="${y(b.value) - 4}" text-anchor="middle" font-size="9">${esc(num(b.value))}</text>` +
      `<text x="${x + step * 0.35}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="9">${esc(b.label)}</text>`;
  });
  return `${out}</g>`;
}

/** A round number at or above the largest value. */
function niceMax(values: number[]): number {
  const top = Math.max(1, ...values.filter(Number.isFinite));
  const p = 10 ** Math.floor(Math.log10(top));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= top)!;
}

/** The SVG of a run's rows (panels whose rows did not run are left empty). */
export function chart(rows: readonly Row[]): string {
  const get = (id: string) => rows.find((r) => r.id === id);
  const writers = ["1", "8", "64"];
  const creates = linePanel(0, "key creates/s against writers", "creates/s", writers.map((w) => `${w} writer${w === "1" ? "" : "s"}`), [
    { name: "1 node", values: writers.map((w) => get(`writes.1node.${w}`)?.value) },
    { name: "3 nodes", values: writers.map((w) => get(`writes.3node.${w}`)?.value) },
  ]);
  const scale = get("scale.generate");
  const keys = scale?.detail?.keys as number | undefined;
  const generate = barPanel(W, "GENERATE per server CPU-s against keys", "ops per server CPU-second", [
    { label: "in-process ceiling", value: get("crypto.dek")?.value },
    { label: "1 key", value: scale?.ceiling?.value },
    { label: `${num(keys)} keys`, value: scale?.perCpu },
  ]);
  const single = barPanel(2 * W, "1 op/request against the TLS stack", "requests per server CPU-second", [
    { label: "empty handler", value: get("stack.raw")?.perCpu },
    { label: "empty hono", value: get("stack.hono")?.perCpu },
    { label: "GENERATE", value: get("generate.single")?.perCpu },
  ]);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * W}" height="${H}" viewBox="0 0 ${3 * W} ${H}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="white"/>${creates}${generate}${single}</svg>\n`;
}
