/** KES's server routes: /v1/ready, /v1/status, /v1/metrics and /v1/api. */
import os from "node:os";
import { kesError, KesMessages } from "./errors.ts";
import type { KesKit, KesMetrics } from "./kit.ts";
import { apiListing } from "./table.ts";

/** Registers the server routes. */
export function serverRoutes(kit: KesKit, metrics: KesMetrics): void {
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
    const access = await kit.gate(c, "metrics", "", "/v1/metrics");
    if (access instanceof Response) return access;
    const s = opts.backend().storeStatus();
    const lines = [
      "# HELP kes_http_request_success Number of requests answered with 2xx.",
      "# TYPE kes_http_request_success counter",
      `kes_http_request_success ${metrics.sum((st) => st < 300)}`,
      "# HELP kes_http_request_error Number of requests answered with 4xx.",
      "# TYPE kes_http_request_error counter",
      `kes_http_request_error ${metrics.sum((st) => st >= 400 && st < 500)}`,
      "# HELP kes_http_request_failure Number of requests answered with 5xx.",
      "# TYPE kes_http_request_failure counter",
      `kes_http_request_failure ${metrics.sum((st) => st >= 500)}`,
      "# HELP kes_keystore_latency_ms Latency of the key store's last probe.",
      "# TYPE kes_keystore_latency_ms gauge",
      `kes_keystore_latency_ms ${s.latencyMs}`,
      "# HELP kes_keystore_unreachable Whether the key store is unreachable.",
      "# TYPE kes_keystore_unreachable gauge",
      `kes_keystore_unreachable ${s.unreachable ? 1 : 0}`,
      "# HELP kes_system_up_time Seconds since the server started.",
      "# TYPE kes_system_up_time gauge",
      `kes_system_up_time ${Math.floor((Date.now() - opts.startedAt) / 1000)}`,
      "",
    ];
    return c.body(lines.join("\n"), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  kit.on("/v1/api", (c) => c.json(apiListing()));
}
