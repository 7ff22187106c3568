import { Hono } from "hono";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { encode } from "../wire/proto.ts";

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
  // Ready for reads: this node serves them. With ?write: a write sent here would be taken now.
  app.get("/v1/health/ready", async (c) => {
    const ok = c.req.query("write") === undefined ? deps.node.readyForReads() : await deps.node.readyForWrites();
    return c.body(null, ok ? 200 : 503);
  });
  return app;
}
