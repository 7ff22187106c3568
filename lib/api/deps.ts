import type { KmsNode } from "../node/node.ts";
import type { NodeOps } from "./ops.ts";
import type { SessionLimits } from "./console/sessions.ts";

/** What the apps need from the running node. */
export interface AppDeps {
  readonly node: KmsNode;
  /** The enclave KES API requests run in (default "default"). */
  readonly kesEnclave?: string;
  /** Metrics, audit, log streams and restarts (absent: none of them, as in in-process tests). */
  readonly ops?: NodeOps;
  /** The browser console's session limits (default DEFAULT_SESSION_LIMITS), or false to serve no console. */
  readonly console?: SessionLimits | false;
}
