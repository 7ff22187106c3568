/** The logging, audit and metrics flags shared by `kms server`, `kms dev` and `kms edge` (docs/operations.md). */
import { log, type LogFormat } from "../lib/log/logger.ts";
import { type Args, CliError, enumFlag } from "./command.ts";

/** parseArgs options for the watching flags. */
export const WATCH_OPTIONS = {
  "log-format": { type: "string" },
  audit: { type: "string" },
  "audit-trail": { type: "string" },
  metrics: { type: "string" },
} as const;

/** --help lines for the watching flags; `trail` says what --audit-trail takes. */
export function watchHelp(trail: "switch" | "dir"): string {
  return `Logs, audit and metrics (docs/operations.md):
  --log-format F       json (default: one JSON object per line on stderr) or text
  --audit FILE|-       Also append every audit record to FILE (or stdout: -) as
                       JSON lines, names in the clear; SIGHUP reopens FILE
                       (after logrotate moved it)
${trail === "switch"
    ? `  --audit-trail on|off The hash-chained audit trail in DIR/audit (default on)`
    : `  --audit-trail DIR    Keep a hash-chained audit trail in DIR (names in the clear)`}
  --metrics on|off     Collect Prometheus metrics (default on)`;
}

/** What the watching flags say; sets the log format at once. */
export function watchFlags(args: Args, trail: "switch" | "dir"): { auditOut?: string; auditTrail?: boolean | string; metrics: boolean } {
  const format = enumFlag(args.values["log-format"], "--log-format", ["json", "text"]) as LogFormat | undefined;
  if (format) log.configure({ format });
  const onOff = (flag: string) => enumFlag(args.values[flag], `--${flag}`, ["on", "off"]);
  const out = args.values.audit as string | undefined;
  if (out === "") throw new CliError("--audit: expected a file name, or - for stdout", 2);
  const t = args.values["audit-trail"] as string | undefined;
  if (trail === "dir" && t === "") throw new CliError("--audit-trail: expected a directory", 2);
  return {
    auditOut: out,
    auditTrail: trail === "switch" ? onOff("audit-trail") !== "off" : t,
    metrics: onOff("metrics") !== "off",
  };
}
