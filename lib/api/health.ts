import { Hono } from "hono";
import type { AppDeps, Env } from "./env.ts";
import { encode } from "./native/proto.ts";

/** Unauthenticated endpoints for clients, load balancers and probes: /version and /v1/health/*. */
export function healthRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get("/version", (c) => {
    const version = {
      version: deps.node.info.version,
      commit: "",
      api_version: "v1",
      host: deps.node.info.host,
      fips140: false,
    };
    // protobuf only for clients that ask for it; protojson (snake_case) otherwise.
    if (c.req.header("accept") === "application/octet-stream") {
      return c.body(encode("VersionResponse", version), 200, { "content-type": "application/octet-stream" });
    }
    return c.json(version);
  });
  app.get("/v1/health/live", (c) => c.body(null, 200));
  // A single node is always its own leader, so it is ready for reads and writes.
  app.get("/v1/health/ready", (c) => c.body(null, 200));
  return app;
}
