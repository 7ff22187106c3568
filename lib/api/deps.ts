import type { KmsNode } from "../node/node.ts";
import type { SessionLimits } from "./console/sessions.ts";

/** What the apps need from the running node. */
export interface AppDeps {
  readonly node: KmsNode;
  /** The enclave KES API requests run in (default "default"). */
  readonly kesEnclave?: string;
  /** The browser console's session limits (default DEFAULT_SESSION_LIMITS), or false to serve no console. */
  readonly console?: SessionLimits | false;
}
