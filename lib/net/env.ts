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
