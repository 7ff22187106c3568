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
import type { RawRoute } from "../net/serve.ts";
import { COMMANDS } from "./native/commands.ts";
import { beginNote, newNote, type NotingRoute, type RequestNote } from "./request-note.ts";

/** Where observations go; either may be absent (switched off). */
export interface ObserveTargets {
  readonly metrics?: Pick<Metrics, "inFlight" | "observe">;
  readonly audit?: Pick<AuditHub, "record">;
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

/** A request being watched: its note, when it started, its route family. */
export interface Watch {
  readonly note: RequestNote;
  readonly started: number;
  readonly api: string;
  readonly path: string;
}

/** What an answered request's metrics and audit record take besides its note. */
export interface Answered {
  readonly method: string;
  readonly status: number;
  /** The request's Content-Length (0 when absent). */
  readonly requestBytes: number;
  /** The reply's Content-Length; undefined for streamed replies. */
  readonly responseBytes: number | undefined;
  readonly identity: string;
  readonly ip: string;
}

/** Starts watching a request to `path` (counted in flight until endWatch). */
export function startWatch(t: ObserveTargets, path: string, note: RequestNote): Watch {
  const started = performance.now();
  const api = familyOf(path);
  t.metrics?.inFlight(api, 1);
  return { note, started, api, path };
}

/** A request that ended without an answer to record (its handler threw past the app's error handler). */
export function dropWatch(t: ObserveTargets, w: Watch): void {
  t.metrics?.inFlight(w.api, -1);
}

/** Counts an answered request in the metrics and makes its audit record. */
export function endWatch(t: ObserveTargets, w: Watch, a: Answered): void {
  t.metrics?.inFlight(w.api, -1);
  const { note, api, path } = w;
  const seconds = (performance.now() - w.started) / 1000;
  if (t.metrics) {
    for (const [name, cmd] of note.commands) if (!cmd.id) cmd.id = IDS.get(name) ?? "";
    t.metrics.observe({
      api, op: api === "rpc" ? path.slice(8) : undefined, status: a.status, seconds,
      requestBytes: a.requestBytes, responseBytes: a.responseBytes,
      commands: note.commands.size ? note.commands : undefined,
    });
  }
  if (!t.audit || path === "/v1/rpc/raft") return;
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const command = note.commands.size === 1 ? note.commands.keys().next().value!
    : note.commands.size > 1 ? "PIPELINE"
    : `${a.method} ${FIXED.has(trimmed) || api === "rpc" ? trimmed : api === "native" ? "/v1/kms" : "(other)"}`;
  t.audit.record({
    time: Date.now() - seconds * 1000,
    node: t.node(),
    id: note.id,
    identity: a.identity,
    ip: a.ip,
    api,
    method: a.method,
    command,
    enclave: note.enclave,
    object: note.object,
    ops: note.ops,
    status: a.status,
    ms: Math.round(seconds * 1e6) / 1e3,
    path,
  });
}

/** The observing middleware. */
export function observe(t: ObserveTargets): MiddlewareHandler<Env> {
  return async (c, next) => {
    const w = startWatch(t, c.req.path, beginNote(c.req.raw));
    try {
      await next();
    } catch (err) {
      dropWatch(t, w);
      throw err;
    }
    const res = c.res;
    try {
      res.headers.set("x-request-id", w.note.id);
    } catch {
      // a reply with immutable headers goes out without the id
    }
    const length = res.headers.get("content-length");
    endWatch(t, w, {
      method: c.req.method, status: res.status,
      requestBytes: Number(c.req.header("content-length") ?? 0) || 0,
      responseBytes: length === null ? undefined : Number(length),
      identity: c.env?.identity ?? "", ip: c.env?.ip ?? "",
    });
  };
}

/**
 * `route` watched as observe() watches the app's routes: the same request
 * id header, metrics series and audit record, made from the same note.
 */
export function observedRoute(t: ObserveTargets, route: NotingRoute): RawRoute {
  return {
    match: route.match,
    maxBody: route.maxBody,
    begin(param, req) {
      const w = startWatch(t, req.path, newNote());
      const x = route.begin(param, req, w.note);
      return {
        handle: x.handle,
        tooLarge: x.tooLarge,
        failed: x.failed,
        drop: () => dropWatch(t, w),
        end(reply) {
          const r = x.end(reply);
          const length = r.headers["content-length"];
          endWatch(t, w, {
            method: req.method, status: r.status,
            requestBytes: Number(req.headers["content-length"] ?? 0) || 0,
            responseBytes: length === undefined ? undefined : Number(length),
            identity: req.peer.identity ?? "", ip: req.ip ?? "",
          });
          return { status: r.status, headers: { ...r.headers, "x-request-id": w.note.id }, body: r.body };
        },
      };
    },
  };
}
