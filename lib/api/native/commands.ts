import { accessKeyCommands } from "./access-key.ts";
import { clusterCommands } from "./cluster.ts";
import type { CommandSpec } from "./command.ts";
import { enclaveCommands } from "./enclave.ts";
import { identityCommands } from "./identity.ts";
import { keyCommands } from "./key.ts";
import { policyCommands } from "./policy.ts";
import { recoveryCommands } from "./recovery.ts";

/** Every native command by id. */
export const COMMANDS: ReadonlyMap<number, CommandSpec> = new Map(
  [...clusterCommands, ...enclaveCommands, ...keyCommands, ...policyCommands, ...identityCommands, ...recoveryCommands, ...accessKeyCommands].map((c) => [c.id, c]),
);
