/** The console's flags, shared by `kms server` and `kms dev`. */
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from "../lib/api/console/sessions.ts";
import { parseDuration } from "../lib/edge/duration.ts";
import { type Args, CliError } from "./command.ts";

/** parseArgs options for the console flags. */
export const CONSOLE_OPTIONS = { "console-session": { type: "string" }, "no-console": { type: "boolean" } } as const;

/** --help lines for the console flags. */
export const CONSOLE_HELP = `Console (a browser UI at https://HOST:PORT/console/, see docs/console.md):
  --console-session D      An unused console session ends after D (default 15m; at most 8h after login)
  --no-console             Serve no console`;

/** The console's session limits from the flags, or false with --no-console; a bad value is a usage error. */
export function consoleOf(args: Args): SessionLimits | false {
  if (args.values["no-console"] === true) return false;
  const value = args.values["console-session"] as string | undefined;
  if (value === undefined) return DEFAULT_SESSION_LIMITS;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new CliError(`--console-session: ${(err as Error).message}`, 2);
  }
  if (ms <= 0 || ms > DEFAULT_SESSION_LIMITS.maxMs) throw new CliError("--console-session: must be more than 0 and at most 8h", 2);
  return { ...DEFAULT_SESSION_LIMITS, idleMs: ms };
}
