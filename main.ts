#!/usr/bin/env bun
/** kms: one binary for the server, its CLI and the software HSM. argv → one command of cli/. */
import { accessCommands } from "./cli/access.ts";
import { adminKeyCommands } from "./cli/admin-key.ts";
import { clusterCommands } from "./cli/cluster.ts";
import { type CliCommand, CliError, parseCommandArgs } from "./cli/command.ts";
import { cryptoCommands } from "./cli/crypto.ts";
import { edgeCommands } from "./cli/edge.ts";
import { enclaveCommands } from "./cli/enclave.ts";
import { hsmCommands } from "./cli/hsm.ts";
import { identityCommands } from "./cli/identity.ts";
import { keyCommands } from "./cli/key.ts";
import { migrateCommands } from "./cli/migrate.ts";
import { serverCommands } from "./cli/server.ts";
import { KmsClientError } from "./lib/client/client.ts";
import { TransportError } from "./lib/client/transport.ts";
import { VERSION } from "./lib/server/version.ts";

const COMMANDS: CliCommand[] = [
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
  const [name, ...rest] = argv;
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
  try {
    if (!cmd) throw new CliError(`unknown command '${name}'\n\n${usage()}`, 2);
    const args = parseCommandArgs(cmd, rest);
    if (args.help) {
      console.log(cmd.help);
      return 0;
    }
    return (await cmd.run(args)) ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`kms: ${err.message}`);
      return err.code;
    }
    if (err instanceof KmsClientError) {
      console.error(`kms: ${err.message} (HTTP ${err.status})`);
      return 1;
    }
    if (err instanceof TransportError) {
      console.error(`kms: cannot reach the server: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // Idle keep-alive sockets would hold the process open.
  process.exit(code);
}
