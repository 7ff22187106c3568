import { clusterCommands } from "./cluster.ts";
import type { CommandSpec } from "./command.ts";
import { enclaveCommands } from "./enclave.ts";
import { keyCommands } from "./key.ts";

/** Every native command by id. */
export const COMMANDS: ReadonlyMap<number, CommandSpec> = new Map(
  [...clusterCommands, ...enclaveCommands, ...keyCommands].map((c) => [c.id, c]),
);
