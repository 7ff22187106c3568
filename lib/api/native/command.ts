import type * as v from "valibot";
import type { DecryptBudget } from "../../crypto/keyring.ts";
import type { Caller } from "../../state/policy.ts";
import type { KmsNode } from "../../node/node.ts";
import type { WireCommand } from "../../wire/commands.ts";

/** What a command handler sees: the node, the request's enclave and the authorised caller. */
export interface CommandContext {
  readonly node: KmsNode;
  readonly enclave: string;
  readonly identity: string;
  readonly caller: Caller;
  /** What decryption may cost this request, across all its frames. */
  readonly budget: DecryptBudget;
}

/** A native-protocol command: its wire facts (lib/wire/commands.ts) and its handler. */
export interface CommandSpec<S extends v.GenericSchema = v.GenericSchema> extends WireCommand {
  /** Validates the decoded request. */
  readonly schema: S;
  /** Whether the command changes state (writes are never batched). */
  readonly write: boolean;
  /** The name a policy rule is matched against (key, policy or identity); none for listings. */
  readonly resource?: (req: v.InferOutput<S>) => string;
  /** A second name the same command must be allowed on (KEY:REWRAP's destination key). */
  readonly alsoOn?: (req: v.InferOutput<S>) => string;
  /**
   * The objects of the state the command reads before it runs or answers
   * (names from server/pending.ts), besides the enclave of an in-enclave
   * command: pending writes to anything else never delay it.
   */
  readonly reads?: (enclave: string, req: v.InferOutput<S>) => string[];
  readonly run: (ctx: CommandContext, req: v.InferOutput<S>) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
}

/** Declares a command with its schema's type flowing into the handler. */
export function command<S extends v.GenericSchema>(spec: CommandSpec<S>): CommandSpec {
  return spec as unknown as CommandSpec;
}
