import type { KmsNode } from "../node/node.ts";

/** What the apps need from the running node. */
export interface AppDeps {
  readonly node: KmsNode;
  /** The enclave KES API requests run in (default "default"). */
  readonly kesEnclave?: string;
}
