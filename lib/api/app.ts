import { Hono } from "hono";
import { awsRoutes } from "./aws/routes.ts";
import { log } from "../log/logger.ts";
import { debugRoutes } from "./debug.ts";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { onAppError } from "../net/errors.ts";
import { dbRoutes } from "./db.ts";
import { consoleRoutes } from "./console/routes.ts";
import { ConsoleSessions } from "./console/sessions.ts";
import { healthRoutes } from "./health.ts";
import { kesRoutes } from "./kes/routes.ts";
import { DEFAULT_KES_ENCLAVE, statefulKes } from "./kes/stateful.ts";
import { metricsRoutes } from "./metrics.ts";
import { nativeRawRoute, nativeRoutes } from "./native/route.ts";
import { observe, observedRoute, type ObserveTargets } from "./observe.ts";
import type { RawRoute } from "../net/serve.ts";
import { rpcRawRoute, rpcRoutes } from "./rpc.ts";

/** The whole HTTP surface of a node, as one hono app over web-standard Request/Response. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  // Every request is counted and audited once answered (observe.ts).
  app.use("*", observe(observeTargets(deps)));
  app.route("/", healthRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", debugRoutes(deps));
  app.route("/", nativeRoutes(deps));
  app.route("/", rpcRoutes(deps));
  app.route("/", dbRoutes(deps));
  // The KES JSON API, in one enclave, next to the native protocol.
  const enclave = deps.kesEnclave ?? DEFAULT_KES_ENCLAVE;
  const kes = statefulKes(deps.node, enclave);
  app.route("/", kesRoutes({ backend: () => kes, version: deps.node.info.version, startedAt: deps.node.info.startedAt, enclave, ops: deps.ops }));
  // The AWS KMS API (POST / with X-Amz-Target), authenticated by SigV4 rather than a client certificate.
  app.route("/", awsRoutes(deps));
  // The browser console; its metrics and audit views ask this app as the session's identity.
  if (deps.console !== false) {
    const sessions = new ConsoleSessions(deps.console);
    app.route("/", consoleRoutes({ node: deps.node, sessions, fetchAs: async (req, identity) => app.fetch(req, { identity }) }));
  }
  app.notFound((c) => c.json({ message: "not found" }, 404));
  app.onError(onAppError(log));
  return app;
}

/**
 * The native endpoint without the web Request adapter (see RawRoute): the
 * same answers as createApp's, watched the same way (request id, metrics,
 * audit record), so a server serves its native POSTs through it.
 */
export function createRawRoute(deps: AppDeps): RawRoute {
  return observedRoute(observeTargets(deps), nativeRawRoute(deps, log));
}

/** A server's raw routes: the native endpoint's, then the node-to-node calls' (rpc.ts), watched alike. */
export function createRawRoutes(deps: AppDeps): RawRoute[] {
  return [createRawRoute(deps), observedRoute(observeTargets(deps), rpcRawRoute(deps, log))];
}

/** Where a node's requests are counted and audited. */
function observeTargets(deps: AppDeps): ObserveTargets {
  return { metrics: deps.ops?.metrics, audit: deps.ops?.audit, node: () => deps.node.info.host };
}
