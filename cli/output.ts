import type { Args } from "./command.ts";
import { encodeBase64 } from "../lib/encoding/base64.ts";

/** Prints `value` as JSON with --json, else the human text. */
export function output(args: Args, value: unknown, human: () => string): void {
  if (args.values.json) console.log(JSON.stringify(value, jsonBytes, 2));
  else {
    const text = human();
    if (text) console.log(text);
  }
}

/** Aligned "label  value" lines. */
export function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** Columns with a header row, padded to fit. */
export function columns(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** A protobuf Timestamp as ISO text. */
export function time(ts: unknown): string {
  const t = ts as { seconds?: number; nanos?: number } | undefined;
  return new Date((t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6)).toISOString();
}

/** JSON output: bytes as base64, protobuf timestamps (`…_at` fields) as RFC 3339 text. */
function jsonBytes(key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return encodeBase64(value);
  if (key.endsWith("_at") && value !== null && typeof value === "object" && "seconds" in value) return time(value);
  return value;
}
