import type { KmsNode } from "../server/node.ts";
import type { SessionLimits } from "./console/sessions.ts";

/** Per-request bindings the TLS adapter passes to every hono app. */
export interface Bindings {
  /** The caller's `h1:` identity from its TLS client certificate, if it sent one. */
  readonly identity: string | undefined;
  /** The DER client certificate behind `identity` (node-to-node calls check who issued it). */
  readonly certificate?: Uint8Array;
}

/** The hono environment of kms's apps. */
export interface Env {
  Bindings: Bindings;
}

/** What the apps need from the running node. */
export interface AppDeps {
  readonly node: KmsNode;
  /** The enclave KES API requests run in (default "default"). */
  readonly kesEnclave?: string;
  /** The browser console's session limits (default DEFAULT_SESSION_LIMITS), or false to serve no console. */
  readonly console?: SessionLimits | false;
}
