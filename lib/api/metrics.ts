/**
 * GET /v1/health/metrics: the node's metrics in Prometheus's text format
 * (kms's names; KES's are at /v1/metrics). Readers need SYS:METRICS
 * (state/operator.ts): a SysAdmin, or an identity whose policy allows it —
 * the identity of a Prometheus server's client certificate, typically.
 */
import { Hono } from "hono";
import { Errors } from "../state/errors.ts";
import { operatorAllowed } from "../state/operator.ts";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { errorReply, toResponse } from "./native/reply.ts";
import { noteOps } from "./request-note.ts";

/** Content type of the Prometheus text format. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/** The native metrics route. */
export function metricsRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get("/v1/health/metrics", async (c) => {
    noteOps(c.req.raw, [{ name: "SYS:METRICS", id: 0, object: "" }]);
    try {
      if (!operatorAllowed(deps.node.state, deps.node.info.adminIdentity, c.env.identity, "SYS:METRICS")) throw Errors.accessDenied();
      const metrics = deps.ops?.metrics;
      if (!metrics) throw Errors.switchedOff("metrics are switched off on this server (--metrics off)");
      return c.body(await metrics.text(), 200, { "content-type": PROMETHEUS_TEXT });
    } catch (err) {
      return toResponse(errorReply(err, c.req.header("accept")));
    }
  });
  return app;
}
