/** Command input that should not appear on the command line: from a file or standard input. */
import { readFileSync, writeFileSync } from "node:fs";
import { type Args, CliError } from "./command.ts";

/** --in FILE: read the input from FILE instead of the command line. */
export const INPUT_OPTION = { in: { type: "string", short: "i" } } as const;

/** Reads FILE, or standard input for "-"; a CliError naming the flag when it cannot be read. */
export function readInputFile(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file === "-" ? 0 : file));
  } catch (err) {
    throw new CliError(`cannot read ${what} from ${file === "-" ? "standard input" : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * The input of a command: `--in FILE`, `-` (standard input), or the text given
 * on the command line (UTF-8). Exactly one of them.
 */
export function commandInput(args: Args, text: string | undefined, what: string): Uint8Array {
  const file = args.values.in as string | undefined;
  if (file !== undefined && text !== undefined) throw new CliError(`give ${what} either on the command line or with --in, not both`, 2);
  if (file !== undefined) return readInputFile(file, what);
  if (text === undefined) throw new CliError(`no ${what}: pass it as an argument, '-' to read standard input, or --in FILE`, 2);
  if (text === "-") return readInputFile("-", what);
  return new TextEncoder().encode(text);
}

/** Writes secret bytes to FILE (mode 0600). */
export function writeOutputFile(file: string, bytes: Uint8Array): void {
  try {
    writeFileSync(file, bytes, { mode: 0o600 });
  } catch (err) {
    throw new CliError(`cannot write --output ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The bytes as text when they are printable UTF-8, else undefined (binary). */
export function printable(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // Control characters other than tab and newlines would garble a terminal.
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}
