/**
 * The native protocol's operator endpoints: POST /v1/debug/log (the log as
 * a stream of framed LogRecords), GET /v1/debug/stat (this node's status, a
 * kms extension behind `kms stat`) and POST /v1/debug/restart (?self: this
 * node; else every node, one at a time). Watching needs SYS:LOG or
 * SYS:METRICS (state/operator.ts); restarting needs a SysAdmin.
 */
import os from "node:os";
import { Hono } from "hono";
import * as v from "valibot";
import { type LogRecord, log } from "../log/logger.ts";
import { streamingReply } from "../log/feed.ts";
import { Errors } from "../state/errors.ts";
import { type OperatorAction, operatorAllowed } from "../state/operator.ts";
import { callerOf } from "../state/policy.ts";
import type { AppDeps } from "./deps.ts";
import type { Env } from "../net/env.ts";
import { logFrame } from "./log-frames.ts";
import { serverStatus } from "./native/cluster.ts";
import { decode, fromTimestamp, InvalidMessageError } from "../wire/proto.ts";
import { errorReply, toResponse } from "./native/reply.ts";
import { noteOps } from "./request-note.ts";

const LogRequest = v.object({
  level: v.pipe(v.number(), v.integer()),
  message: v.pipe(v.string(), v.maxLength(1024)),
  since: v.unknown(),
});

/** The debug routes of a node. */
export function debugRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const allowed = (identity: string | undefined, action: OperatorAction) =>
    operatorAllowed(deps.node.state, deps.node.info.adminIdentity, identity, action);
  const fail = (c: { req: { header(n: string): string | undefined } }, err: unknown) => toResponse(errorReply(err, c.req.header("accept")));

  app.post("/v1/debug/log", async (c) => {
    noteOps(c.req.raw, [{ name: "SYS:LOG", id: 0, object: "" }]);
    try {
      if (!allowed(c.env.identity, "SYS:LOG")) throw Errors.accessDenied();
      const body = new Uint8Array(await c.req.arrayBuffer());
      let message: unknown;
      try {
        message = decode("LogRequest", body);
      } catch (err) {
        if (err instanceof InvalidMessageError) throw Errors.badRequest(`invalid request: ${err.message}`);
        throw err;
      }
      const r = v.safeParse(LogRequest, message);
      if (!r.success) throw Errors.badRequest(`invalid request: ${r.issues[0].message}`);
      const { level, message: contains } = r.output;
      const since = fromTimestamp(r.output.since);
      const wanted = (rec: { level: number; time: number; msg: string }) => rec.level >= level && rec.time >= since && (!contains || rec.msg.includes(contains));
      // A kms extension: ?follow=false sends the recent records and ends (`kms logs` without --follow).
      if (c.req.query("follow") === "false") {
        const frames = log.recent(since).filter(wanted).map(logFrame);
        return c.body(Buffer.concat(frames), 200, { "content-type": "application/octet-stream" });
      }
      const feeds = deps.ops?.feeds;
      if (!feeds) throw Errors.switchedOff("log streams are not available on this server");
      return streamingReply(feeds.stream<LogRecord>({
        subscribe: (push) => log.subscribe(push),
        encode: (rec) => (wanted(rec) ? logFrame(rec) : undefined),
        initial: log.recent(since),
      }), "application/octet-stream");
    } catch (err) {
      return fail(c, err);
    }
  });

  app.get("/v1/debug/stat", (c) => {
    noteOps(c.req.raw, [{ name: "SYS:METRICS", id: 0, object: "" }]);
    try {
      if (!allowed(c.env.identity, "SYS:METRICS")) throw Errors.accessDenied();
      return c.json(nodeStat(deps));
    } catch (err) {
      return fail(c, err);
    }
  });

  app.post("/v1/debug/restart", async (c) => {
    const self = c.req.query("self") !== undefined;
    noteOps(c.req.raw, [{ name: self ? "SYS:RESTART-SELF" : "SYS:RESTART", id: 0, object: "" }]);
    try {
      if (callerOf(deps.node.state, deps.node.info.adminIdentity, c.env.identity, "")?.privilege !== "SysAdmin") throw Errors.accessDenied();
      const restart = deps.ops?.restart;
      if (!restart) throw Errors.switchedOff("this server cannot restart itself");
      const restarted = self ? [] : await deps.node.restartOthers();
      log.info(self ? "restarting (asked by an operator)" : "rolling restart: every other node is back; restarting this node last", { identity: c.env.identity ?? "" });
      // After this reply is on its way: the graceful stop lets it finish.
      setTimeout(restart, 50);
      return c.json({ restarted, restarting: deps.node.info.host });
    } catch (err) {
      return fail(c, err);
    }
  });
  return app;
}

/** This node's status, as `kms stat` shows it. */
export function nodeStat(deps: AppDeps) {
  const node = deps.node;
  const s = serverStatus(node);
  const st = node.status();
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const trail = deps.ops?.audit?.trail;
  return {
    version: s.version,
    host: s.host,
    node_id: s.node_id,
    role: s.role,
    leader_id: s.leader_id,
    started_at: new Date(node.info.startedAt).toISOString(),
    uptime_seconds: Math.round((Date.now() - node.info.startedAt) / 100) / 10,
    commit: s.commit,
    applied: st.applied,
    members: st.members.length,
    serving_reads: node.readyForReads(),
    hsm: s.hsm,
    memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed, heap_total_bytes: mem.heapTotal, system_total_bytes: os.totalmem() },
    cpu: { cores: os.cpus().length, user_seconds: cpu.user / 1e6, system_seconds: cpu.system / 1e6, load_average: os.loadavg() },
    connections: deps.ops?.connections() ?? 0,
    audit: deps.ops?.audit ? { records: deps.ops.audit.count, trail: trail ? trail.head : null } : null,
    metrics: deps.ops?.metrics !== undefined,
  };
}
