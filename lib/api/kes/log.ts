/**
 * KES's log streams: GET /v1/log/error and /v1/log/audit, endless
 * application/x-ndjson replies with one JSON object per line, as KES sends
 * them — error events as {"message": …} (with the time and level besides),
 * audit events as {"time", "request": {"ip", "path", "identity"},
 * "response": {"code", "time"}} with the identity in KES's hex form and the
 * response time in nanoseconds. The error stream carries warnings and errors.
 */
import type { AuditEntry } from "../../audit/hub.ts";
import { streamingReply } from "../../log/feed.ts";
import { Level, type LogRecord, levelName, log } from "../../log/logger.ts";
import { noteOps } from "../request-note.ts";
import { kesError } from "./errors.ts";
import { kesHexOf } from "../../identity/kes.ts";
import type { KesKit } from "./kit.ts";

const NDJSON = "application/x-ndjson";
const encoder = new TextEncoder();

/** An error-log line as KES writes it. */
export function kesErrorLine(r: LogRecord): string {
  const fields = Object.entries(r.fields ?? {}).map(([k, v]) => ` ${k}=${v}`).join("");
  return JSON.stringify({ message: r.msg + fields, time: new Date(r.time).toISOString(), level: levelName(r.level) });
}

/** An audit-log line as KES writes it. */
export function kesAuditLine(e: AuditEntry): string {
  return JSON.stringify({
    time: new Date(e.time + e.ms).toISOString(),
    request: { ip: e.ip, path: e.path, identity: e.identity ? kesHexOf(e.identity) : "" },
    response: { code: e.status, time: Math.round(e.ms * 1e6) },
  });
}

/** Registers /v1/log/error and /v1/log/audit. */
export function logRoutes(kit: KesKit): void {
  kit.on("/v1/log/error", async (c) => {
    noteOps(c.req.raw, [{ name: "SYS:LOG", id: 0, object: "" }]);
    const access = await kit.gate(c, "logError", "", "/v1/log/error");
    if (access instanceof Response) return access;
    const feeds = kit.opts.ops?.feeds;
    if (!feeds) return kesError(c, 501, "log streams are not available on this server");
    return streamingReply(feeds.stream<LogRecord>({
      subscribe: (push) => log.subscribe(push),
      encode: (r) => (r.level >= Level.warn ? encoder.encode(kesErrorLine(r) + "\n") : undefined),
    }), NDJSON);
  });

  kit.on("/v1/log/audit", async (c) => {
    noteOps(c.req.raw, [{ name: "SYS:AUDIT", id: 0, object: "" }]);
    const access = await kit.gate(c, "logAudit", "", "/v1/log/audit");
    if (access instanceof Response) return access;
    const { feeds, audit } = kit.opts.ops ?? {};
    if (!feeds || !audit) return kesError(c, 501, "the audit stream is not available on this server (auditing is off)");
    return streamingReply(feeds.stream<AuditEntry>({
      subscribe: (push) => audit.subscribe(push),
      encode: (e) => encoder.encode(kesAuditLine(e) + "\n"),
    }), NDJSON);
  });
}
