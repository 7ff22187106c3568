import { parseArgs, type ParseArgsConfig } from "node:util";
import { didYouMean } from "../lib/state/suggest.ts";

export { didYouMean } from "../lib/state/suggest.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed arguments of a command. */
export interface Args {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/** One `kms` command: its help text, flags and action. Returns the exit code. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  /** Usage lines and flag descriptions shown by --help. */
  readonly help: string;
  readonly options: Options;
  /** Exact number of positional arguments, or [min, max]. */
  readonly positionals: number | readonly [number, number];
  run(args: Args): Promise<number | void>;
}

/** A user error: printed without a stack trace, exit code 1 (2 for usage errors). */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

/** Flags every command accepts. */
const GLOBAL: Options = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
};

/** Flags that may also come before the command name (`kms -k ls`): name → takes a value. */
const LEADING: Readonly<Record<string, boolean>> = { "-k": false, "--insecure": false, "--json": false, "--ca": true };

/**
 * Splits argv into the command name and its arguments, moving global flags
 * written before the name (`kms -k --ca F ls`) behind it.
 */
export function splitCommandLine(argv: readonly string[]): { name: string | undefined; rest: string[] } {
  const moved: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    const flag = a.startsWith("--") && a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    if (!(flag in LEADING)) break;
    moved.push(a);
    if (LEADING[flag] && flag === a) {
      if (i + 1 >= argv.length) throw new CliError(`${flag} needs a value, e.g. ${flag} FILE`, 2);
      moved.push(argv[++i]);
    }
  }
  return { name: argv[i], rest: [...argv.slice(i + 1), ...moved] };
}

/** The flag names a command accepts, as typed (--name and -x). */
function flagNames(options: Options): string[] {
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

/** Parses argv for a command; unknown flags and wrong argument counts are usage errors. */
export function parseCommandArgs(cmd: CliCommand, argv: string[]): Args & { help: boolean } {
  const options = { ...GLOBAL, ...cmd.options };
  const more = `run 'kms ${cmd.name} --help' for its usage`;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.split("\n")[0].replace(/\. To specify a positional argument.*$/, "");
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    const hint = unknown ? didYouMean(unknown, flagNames(options)) : "";
    throw new CliError(`${cmd.name}: ${message}${hint} (${more})`, 2);
  }
  const help = parsed.values.help === true;
  const [min, max] = typeof cmd.positionals === "number" ? [cmd.positionals, cmd.positionals] : cmd.positionals;
  const n = parsed.positionals.length;
  if (!help && (n < min || n > max)) {
    throw new CliError(`${cmd.name}: expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${n} (${more})`, 2);
  }
  return { values: parsed.values as Args["values"], positionals: parsed.positionals, help };
}

/** The value of an enum flag, matched case-insensitively and returned as spelled in `allowed`. */
export function enumFlag(value: unknown, flag: string, allowed: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === String(value).toLowerCase());
  if (found === undefined) throw new CliError(`${flag} must be ${allowed.join(", ").replace(/, ([^,]*)$/, " or $1")}, got '${value}'`, 2);
  return found;
}
