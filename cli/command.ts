import { parseArgs, type ParseArgsConfig } from "node:util";

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

/** Parses argv for a command; unknown flags and wrong argument counts are usage errors. */
export function parseCommandArgs(cmd: CliCommand, argv: string[]): Args & { help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${cmd.help}`, 2);
  }
  const help = parsed.values.help === true;
  const [min, max] = typeof cmd.positionals === "number" ? [cmd.positionals, cmd.positionals] : cmd.positionals;
  const n = parsed.positionals.length;
  if (!help && (n < min || n > max)) {
    throw new CliError(`kms ${cmd.name}: expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${n}\n\n${cmd.help}`, 2);
  }
  return { values: parsed.values as Args["values"], positionals: parsed.positionals, help };
}
