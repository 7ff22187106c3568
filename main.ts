#!/usr/bin/env bun
/** kms: one binary for the server, its CLI and the software HSM. argv → one command of cli/. */
import { accessCommands } from "./cli/access.ts";
import { adminKeyCommands } from "./cli/admin-key.ts";
import { clusterCommands } from "./cli/cluster.ts";
import { type CliCommand, CliError, didYouMean, parseCommandArgs, splitCommandLine } from "./cli/command.ts";
import { cryptoCommands } from "./cli/crypto.ts";
import { edgeCommands } from "./cli/edge.ts";
import { describeFailure, type FailureContext, printFailure } from "./cli/errors.ts";
import { enclaveCommands } from "./cli/enclave.ts";
import { hsmCommands } from "./cli/hsm.ts";
import { identityCommands } from "./cli/identity.ts";
import { keyCommands } from "./cli/key.ts";
import { migrateCommands } from "./cli/migrate.ts";
import { serverCommands } from "./cli/server.ts";
import { VERSION } from "./lib/version.ts";

/** Every command, in the order `kms --help` lists them. */
export const COMMANDS: CliCommand[] = [
  ...serverCommands,
  ...edgeCommands,
  ...clusterCommands,
  ...enclaveCommands,
  ...keyCommands,
  ...cryptoCommands,
  ...accessCommands,
  ...identityCommands,
  ...adminKeyCommands,
  ...hsmCommands,
  ...migrateCommands,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: kms COMMAND [options]

A key management server for large storage systems.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

  kms --soft-hsm     Print a fresh software HSM key (same as 'kms hsm new')
  kms --version      Print the version

Run 'kms COMMAND --help' for a command's options.`;
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let json = argv.includes("--json");
  let ctx: FailureContext = {};
  try {
    const { name, rest } = splitCommandLine(argv);
    if (!name || name === "--help" || name === "-h" || name === "help") {
      console.log(usage());
      return name ? 0 : 2;
    }
    if (name === "--version") {
      console.log(`kms ${VERSION}`);
      return 0;
    }
    if (name === "--soft-hsm") return main(["hsm", "new", ...rest]);
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) {
      const what = name.startsWith("-") ? "unknown flag" : "unknown command";
      throw new CliError(`${what} '${name}'${didYouMean(name, COMMANDS.map((c) => c.name))} ('kms --help' lists the commands)`, 2);
    }
    ctx = { command: cmd.name };
    const args = parseCommandArgs(cmd, rest);
    json = args.values.json === true;
    ctx = { command: cmd.name, values: args.values };
    if (args.help) {
      console.log(cmd.help);
      return 0;
    }
    return (await cmd.run(args)) ?? 0;
  } catch (err) {
    const failure = describeFailure(err, ctx);
    printFailure(failure, json);
    return failure.code;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // Idle keep-alive sockets would hold the process open.
  process.exit(code);
}
