/** The connection-limit flags shared by `kms server`, `kms dev` and `kms edge` (docs/limits.md). */
import { type ConnectionLimits, DEFAULT_LIMITS } from "../lib/net/connections.ts";
import { parseDuration } from "../lib/edge/duration.ts";
import { type Args, CliError } from "./command.ts";

const DURATIONS = {
  "handshake-timeout": "handshakeMs",
  "header-timeout": "headerMs",
  "idle-timeout": "idleMs",
  "body-timeout": "bodyMs",
  "write-timeout": "writeMs",
  "shutdown-timeout": "shutdownMs",
} as const;

/** parseArgs options for the limit flags. */
export const LIMIT_OPTIONS = {
  "max-connections": { type: "string" },
  ...Object.fromEntries(Object.keys(DURATIONS).map((k) => [k, { type: "string" }])),
} as { readonly [K in "max-connections" | keyof typeof DURATIONS]: { readonly type: "string" } };

const s = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** --help lines for the limit flags. */
export const LIMITS_HELP = `Connection limits (durations like 500ms, 10s, 1m):
  --max-connections N      Open connections at most; idle ones are shed first (default ${DEFAULT_LIMITS.maxConnections})
  --handshake-timeout D    TCP accept to finished TLS handshake (default ${s(DEFAULT_LIMITS.handshakeMs)})
  --header-timeout D       First byte of a request to its complete header (default ${s(DEFAULT_LIMITS.headerMs)})
  --idle-timeout D         Keep-alive: end of a reply to the next request (default ${s(DEFAULT_LIMITS.idleMs)})
  --body-timeout D         Complete header to complete body (default ${s(DEFAULT_LIMITS.bodyMs)})
  --write-timeout D        Reply ready to reply sent; cuts clients that stop reading (default ${s(DEFAULT_LIMITS.writeMs)})
  --shutdown-timeout D     On SIGTERM, time busy requests get before connections are cut (default ${s(DEFAULT_LIMITS.shutdownMs)})`;

/** The limits the flags set (the rest keep their defaults); a bad value is a usage error. */
export function limitsOf(args: Args): Partial<ConnectionLimits> {
  const out: { -readonly [K in keyof ConnectionLimits]?: number } = {};
  const max = args.values["max-connections"] as string | undefined;
  if (max !== undefined) {
    if (!/^\d+$/.test(max) || Number(max) < 1) throw new CliError(`--max-connections: expected a positive integer, got '${max}'`, 2);
    out.maxConnections = Number(max);
  }
  for (const [flag, field] of Object.entries(DURATIONS)) {
    const value = args.values[flag] as string | undefined;
    if (value === undefined) continue;
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (err) {
      throw new CliError(`--${flag}: ${(err as Error).message}`, 2);
    }
    if (ms <= 0) throw new CliError(`--${flag}: must be more than 0`, 2);
    out[field] = ms;
  }
  return out;
}
