/**
 * What an AWS KMS operation is here: its name (X-Amz-Target), its input
 * schema, and a handler that sees the authenticated caller in the region's
 * enclave. Handlers authorise through the same policy engine as the native
 * protocol, under native command names (actions.ts), so one policy governs
 * both.
 */
import type * as v from "valibot";
import type { KmsNode } from "../../node/node.ts";
import type { Caller } from "../../state/policy.ts";

/** The request's world: the node, the enclave the region names, and the caller. */
export interface AwsContext {
  readonly node: KmsNode;
  /** The region of the request's credential scope; also the enclave's name. */
  readonly region: string;
  readonly enclave: string;
  /** The cluster's 12-digit account id. */
  readonly account: string;
  readonly caller: Caller;
  /** 403 (AccessDeniedException) unless the caller may run `command` on `name` (a listing: on some names). */
  authorize(command: string, name?: string): void;
  /** Waits until pending writes to these objects (server/pending.ts names) are settled. */
  barrier(objects: readonly string[]): Promise<void>;
}

/** One AWS KMS operation. */
export interface AwsOperation<S extends v.GenericSchema = v.GenericSchema> {
  readonly name: string;
  readonly schema: S;
  readonly run: (ctx: AwsContext, input: v.InferOutput<S>) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
}

/** Declares an operation with its schema's type flowing into the handler. */
export function operation<S extends v.GenericSchema>(spec: AwsOperation<S>): AwsOperation {
  return spec as unknown as AwsOperation;
}
