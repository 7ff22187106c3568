/**
 * The middleware every request of a node passes through first: it gives the
 * request an id (the reply's x-request-id), counts it in the metrics by route
 * family, and, once answered, makes its one audit record — who asked, what
 * it ran on which object in which enclave, how it ended, how long it took,
 * how many operations it held. Neither ever sees a body: no key material,
 * plaintext or API key can reach them. Replication traffic (/v1/rpc/raft) is
 * counted but not audited: it is the cluster talking to itself, many times a
 * second.
 */
import type { MiddlewareHandler } from "hono";
import type { AuditHub } from "../audit/hub.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Env } from "../net/env.ts";
import { COMMANDS } from "./native/commands.ts";
import { beginNote } from "./request-note.ts";

/** Where observations go; either may be absent (switched off). */
export interface ObserveTargets {
  readonly metrics?: Metrics;
  readonly audit?: AuditHub;
  /** This node's name in audit records (its advertised address). */
  readonly node: () => string;
}

/** Routes without objects, recorded as themselves; any other path is recorded as "(other)". */
const FIXED = new Set([
  "/version", "/v1/health/live", "/v1/health/ready", "/v1/health/metrics", "/v1/debug/log", "/v1/debug/restart", "/v1/debug/stat",
  "/v1/status", "/v1/metrics", "/v1/api", "/v1/ready", "/v1/log/error", "/v1/log/audit", "/v1/identity/self/describe",
]);

/** The route family of a path: native, kes, rpc, health, debug or other. */
export function familyOf(path: string): string {
  if (path.startsWith("/v1/kms")) return "native";
  if (path.startsWith("/v1/rpc/")) return "rpc";
  if (path === "/version" || path.startsWith("/v1/health/")) return "health";
  if (path.startsWith("/v1/debug/")) return "debug";
  if (/^\/v1\/(key|identity|policy|log)\/|^\/v1\/(status|metrics|api|ready)\/?$/.test(path)) return "kes";
  return "other";
}

const IDS = new Map([...COMMANDS.values()].map((c) => [c.name, String(c.id)]));

/** The observing middleware. */
export function observe(t: ObserveTargets): MiddlewareHandler<Env> {
  return async (c, next) => {
    const started = performance.now();
    const path = c.req.path;
    const api = familyOf(path);
    const note = beginNote(c.req.raw);
    t.metrics?.inFlight(api, 1);
    try {
      await next();
    } finally {
      t.metrics?.inFlight(api, -1);
    }
    const res = c.res;
    const status = res.status;
    const seconds = (performance.now() - started) / 1000;
    try {
      res.headers.set("x-request-id", note.id);
    } catch {
      // a reply with immutable headers goes out without the id
    }
    if (t.metrics) {
      for (const [name, cmd] of note.commands) if (!cmd.id) cmd.id = IDS.get(name) ?? "";
      const length = res.headers.get("content-length");
      t.metrics.observe({
        api, op: api === "rpc" ? path.slice(8) : undefined, status, seconds,
        requestBytes: Number(c.req.header("content-length") ?? 0) || 0,
        responseBytes: length === null ? undefined : Number(length),
        commands: note.commands.size ? note.commands : undefined,
      });
    }
    if (!t.audit || path === "/v1/rpc/raft") return;
    const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    const command = note.commands.size === 1 ? note.commands.keys().next().value!
      : note.commands.size > 1 ? "PIPELINE"
      : `${c.req.method} ${FIXED.has(trimmed) || api === "rpc" ? trimmed : api === "native" ? "/v1/kms" : "(other)"}`;
    t.audit.record({
      time: Date.now() - seconds * 1000,
      node: t.node(),
      id: note.id,
      identity: c.env?.identity ?? "",
      ip: c.env?.ip ?? "",
      api,
      method: c.req.method,
      command,
      enclave: note.enclave,
      object: note.object,
      ops: note.ops,
      status,
      ms: Math.round(seconds * 1e6) / 1e3,
      path,
    });
  };
}
