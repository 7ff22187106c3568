import { Hono } from "hono";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { onAppError } from "../net/errors.ts";
import { consoleRoutes } from "./console/routes.ts";
import { ConsoleSessions } from "./console/sessions.ts";
import { healthRoutes } from "./health.ts";
import { kesRoutes } from "./kes/routes.ts";
import { DEFAULT_KES_ENCLAVE, statefulKes } from "./kes/stateful.ts";
import { nativeRoutes } from "./native/route.ts";
import { rpcRoutes } from "./rpc.ts";

/** The whole HTTP surface of a node, as one hono app over web-standard Request/Response. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.route("/", healthRoutes(deps));
  app.route("/", nativeRoutes(deps));
  app.route("/", rpcRoutes(deps));
  // The KES JSON API, in one enclave, next to the native protocol.
  const kes = statefulKes(deps.node, deps.kesEnclave ?? DEFAULT_KES_ENCLAVE);
  app.route("/", kesRoutes({ backend: () => kes, version: deps.node.info.version, startedAt: deps.node.info.startedAt }));
  // The browser console; its metrics and audit views ask this app as the session's identity.
  if (deps.console !== false) {
    const sessions = new ConsoleSessions(deps.console);
    app.route("/", consoleRoutes({ node: deps.node, sessions, fetchAs: async (req, identity) => app.fetch(req, { identity }) }));
  }
  app.notFound((c) => c.json({ message: "not found" }, 404));
  app.onError(onAppError((line) => console.error(`kms: ${line}`)));
  return app;
}
