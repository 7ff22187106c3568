/**
 * Confirmation for destructive commands: on a terminal they show what will
 * go and ask; without one (scripts, pipes) they need --force.
 */
import { createInterface } from "node:readline";
import type { Args } from "./command.ts";
import { CliError } from "./command.ts";

/** The --force flag of destructive commands. */
export const FORCE_OPTION = { force: { type: "boolean", short: "f" } } as const;
/** Help line for --force. */
export const FORCE_HELP = `  -f, --force         Do not ask for confirmation (needed when not on a terminal)`;

/** Whether the user can be asked: standard input and error are a terminal. */
function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Reads one answer line from the terminal after printing `question` on stderr. */
function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.once("close", () => answered || resolve("")); // Ctrl-D: no
  });
}

/**
 * Goes on only when the user agrees: --force, or "y"/"yes" typed on a terminal.
 * `what` says in one line what will be deleted; `details` (fetched only when
 * asking) lists what goes with it. Throws a CliError otherwise; nothing changed.
 */
export async function confirm(args: Args, what: string, details: () => Promise<string[]> = async () => []): Promise<void> {
  if (args.values.force === true) return;
  if (!interactive()) {
    throw new CliError(`not confirmed: this ${what}; pass --force to confirm (there is no terminal to ask on)`, 2);
  }
  const lines = await details();
  process.stderr.write([`This ${what}.`, ...lines.map((l) => `  ${l}`), ""].join("\n"));
  const answer = (await ask("Continue? [y/N] ")).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") throw new CliError("cancelled: nothing was changed", 1);
}
