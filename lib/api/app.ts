import { Hono } from "hono";
import type { AppDeps, Env } from "./env.ts";
import { healthRoutes } from "./health.ts";
import { nativeRoutes } from "./native/route.ts";

/** The whole HTTP surface of a node, as one hono app over web-standard Request/Response. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.route("/", healthRoutes(deps));
  app.route("/", nativeRoutes(deps));
  app.notFound((c) => c.json({ message: "not found" }, 404));
  app.onError((err, c) => {
    console.error(`kms: internal error on ${c.req.method} ${c.req.path}: ${err instanceof Error ? err.name : "error"}`);
    return c.json({ message: "internal server error" }, 500);
  });
  return app;
}
