/** KES's server routes: /v1/ready, /v1/status, /v1/metrics and /v1/api. */
import os from "node:os";
import { kesError, KesMessages } from "./errors.ts";
import { PROMETHEUS_TEXT } from "../metrics.ts";
import { noteOps } from "../request-note.ts";
import type { KesKit } from "./kit.ts";
import { apiListing } from "./table.ts";

/** Registers the server routes. */
export function serverRoutes(kit: KesKit): void {
  const { opts } = kit;

  kit.on("/v1/ready", (c) => (opts.backend().ready() ? c.body(null, 200) : kesError(c, 504, KesMessages.storeUnreachable)));

  kit.on("/v1/status", async (c) => {
    const access = await kit.gate(c, "status", "", "/v1/status");
    if (access instanceof Response) return access;
    const s = opts.backend().storeStatus();
    const mem = process.memoryUsage();
    return c.json({
      version: opts.version,
      os: process.platform,
      arch: process.arch === "x64" ? "amd64" : process.arch,
      uptime: Math.max(0, Date.now() - opts.startedAt) * 1_000_000, // a Go time.Duration: nanoseconds
      num_cpu: os.cpus().length,
      num_cpu_used: os.availableParallelism?.() ?? os.cpus().length,
      mem_heap_used: mem.heapUsed,
      mem_stack_used: 0,
      keystore_latency: s.latencyMs, // milliseconds
      keystore_unreachable: s.unreachable,
    });
  });

  kit.on("/v1/metrics", async (c) => {
    noteOps(c.req.raw, [{ name: "SYS:METRICS", id: 0, object: "" }]);
    const access = await kit.gate(c, "metrics", "", "/v1/metrics");
    if (access instanceof Response) return access;
    const metrics = opts.ops?.metrics;
    if (!metrics) return kesError(c, 501, "metrics are switched off on this server");
    return c.body(await metrics.kesText(), 200, { "content-type": PROMETHEUS_TEXT });
  });

  kit.on("/v1/api", (c) => c.json(apiListing()));
}
