import { Hono } from "hono";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { onAppError } from "../net/errors.ts";
import { healthRoutes } from "./health.ts";
import { kesRoutes } from "./kes/routes.ts";
import { DEFAULT_KES_ENCLAVE, statefulKes } from "./kes/stateful.ts";
import { nativeRawRoute, nativeRoutes } from "./native/route.ts";
import type { RawRoute } from "../net/serve.ts";
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
  app.notFound((c) => c.json({ message: "not found" }, 404));
  app.onError(onAppError(log));
  return app;
}

/** The native endpoint as the server serves it: the same answers as createApp's, without the web Request adapter (see RawRoute). */
export function createRawRoute(deps: AppDeps): RawRoute {
  return nativeRawRoute(deps, log);
}

function log(line: string): void {
  console.error(`kms: ${line}`);
}
