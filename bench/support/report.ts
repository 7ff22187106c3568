/**
 * The harness's rows and how they are printed: each figure beside the ceiling
 * it is compared with, the ratio of the two (both measured in this run), the
 * goal of issue 12, and the committed baseline's figure when there is one.
 */

/** One printed figure. */
export interface Row {
  /** Stable id, e.g. "generate.single": the key for baselines and charts. */
  readonly id: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** Operations per server CPU-second, when the row ran against a server. */
  readonly perCpu?: number;
  /** What the figure is compared with (a label and its value, measured in this run). */
  readonly ceiling?: { readonly label: string; readonly value: number; readonly unit: string };
  /** The figure (or its per-CPU form, as `ratioOf` says) divided by the ceiling. */
  readonly ratio?: number;
  readonly ratioOf?: "value" | "perCpu";
  /** The target of issue 12, as text (e.g. "≥ 0.9", "≤ 300 B"). */
  readonly goal?: string;
  /** Latency, cores busy, extrapolations: printed after the figure. */
  readonly notes?: string;
  /** Everything measured for the row (load results etc.), kept in the JSON. */
  readonly detail?: Record<string, unknown>;
}

/** A number with thousands separators and sensible precision. */
export function num(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "n/a";
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Milliseconds, as "12.3 ms". */
export const ms = (n: number) => `${num(n)} ms`;

/** Bytes, as B/KB/MB/GB (decimal). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${num(n)} ${units[i]}`;
}

/** Prints a section heading. */
export function heading(title: string): void {
  console.log(`\n## ${title}`);
}

/** Prints one row in a fixed layout (the smoke test and people both read it). */
export function printRow(row: Row, baseline?: Row): void {
  const figure = `${num(row.value)} ${row.unit}`;
  const perCpu = row.perCpu !== undefined ? `${num(row.perCpu)}/CPU-s` : "";
  const ceiling = row.ceiling ? `${row.ceiling.label} ${num(row.ceiling.value)} ${row.ceiling.unit}` : "";
  const ratio = row.ratio !== undefined ? `ratio ${num(row.ratio)}${row.ratioOf === "perCpu" ? " per CPU-s" : ""}` : "";
  const goal = row.goal ? `goal ${row.goal}` : "";
  const base = baseline ? `baseline ${num(baseline.value)} ${baseline.unit}` : "";
  console.log(`- [${row.id}] ${row.label}: ${figure}${perCpu ? ` (${perCpu})` : ""}`);
  const second = [ceiling && `vs ${ceiling}`, ratio, goal, base].filter(Boolean).join(" | ");
  if (second) console.log(`    ${second}`);
  if (row.notes) console.log(`    ${row.notes}`);
}

/** Every row as one markdown table line (for notes and issues), with the baseline's figure when known. */
export function summaryTable(rows: readonly Row[], baseline: ReadonlyMap<string, Row>): string {
  const lines = ["| row | figure | per server CPU-s | ratio | goal | baseline |", "|---|---|---|---|---|---|"];
  for (const r of rows) {
    const base = baseline.get(r.id);
    lines.push(`| ${r.id} | ${num(r.value)} ${r.unit} | ${r.perCpu !== undefined ? num(r.perCpu) : ""} | ` +
      `${r.ratio !== undefined ? `${num(r.ratio)}${r.ratioOf === "perCpu" ? " (per CPU-s)" : ""}` : ""} | ${r.goal ?? ""} | ` +
      `${base ? `${num(base.value)} ${base.unit}` : ""} |`);
  }
  return lines.join("\n");
}
