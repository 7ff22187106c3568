/**
 * `kms logs`: one node's log, read from POST /v1/debug/log with the native
 * framing ([uint32 BE length][LogRecord]). Without --follow it prints the
 * node's recent records and ends; with it, it goes on printing records as
 * they happen until interrupted.
 */
import { encode, decode, fromTimestamp, timestamp } from "../lib/wire/proto.ts";
import { streamRequest } from "../lib/client/stream.ts";
import { parseDuration } from "../lib/edge/duration.ts";
import { jsonLine, Level, type LevelName, type LogRecord, textLine } from "../lib/log/logger.ts";
import { type Args, type CliCommand, CliError, enumFlag } from "./command.ts";
import { configuredServers, CONNECT_HELP, CONNECT_OPTIONS, connectOptions } from "./connect.ts";

/** The time --since names: a duration ago (10m, 1h) or an RFC 3339 time. */
export function sinceOf(value: string | undefined, now = Date.now()): number {
  if (value === undefined) return 0;
  const at = Date.parse(value);
  if (/^\d{4}-\d\d-\d\d/.test(value) && !Number.isNaN(at)) return at;
  try {
    return now - parseDuration(value);
  } catch {
    throw new CliError(`--since: expected a duration (10m, 1h) or a time (2025-01-31T12:00:00Z), got '${value}'`, 2);
  }
}

/** Splits a byte stream into the frames of the log stream; the rest waits for more bytes. */
export class FrameReader {
  #buf = new Uint8Array(0);

  /** Adds bytes; returns the complete LogRecord payloads now available. */
  push(chunk: Uint8Array): Uint8Array[] {
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    const out: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const n = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0);
      if (n > 4096) throw new CliError(`the server sent a log record of ${n} bytes (at most 4096): not a kms log stream`);
      if (buf.length - at - 4 < n) break;
      out.push(buf.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    this.#buf = buf.slice(at);
    return out;
  }
}

/** A decoded LogRecord as the logger's record. */
export function recordOf(payload: Uint8Array): LogRecord {
  const m = decode("LogRecord", payload) as { level: number; time: unknown; message: string; request?: { method: string; path: string; identity: string; ip: string } | null };
  return { time: fromTimestamp(m.time), level: m.level, msg: m.message, ...(m.request && { req: m.request }) };
}

/** logs. */
export const logCommands: CliCommand[] = [
  {
    name: "logs",
    summary: "Print a node's log; --follow keeps printing records as they happen",
    help: `Usage: kms logs [--follow] [--since D|TIME] [--level L] [HOST:PORT]

Prints the recent log records of one node (default: the first of
MINIO_KMS_SERVER), as text (or JSON lines with --json). Needs a SysAdmin, or
an identity whose policy allows SYS:LOG.

Options:
  -f, --follow         Keep printing records as they happen (until Ctrl-C)
  --since D|TIME       Only records since a duration ago (10m, 1h) or a time
                       (RFC 3339); the node keeps its last 1,024 records
  --level L            Only records at this level or above: debug, info
                       (default), warn, error
${CONNECT_HELP}`,
    options: { follow: { type: "boolean", short: "f" }, since: { type: "string" }, level: { type: "string" }, ...CONNECT_OPTIONS },
    positionals: [0, 1],
    async run(args: Args) {
      const server = args.positionals[0] ?? configuredServers()[0];
      if (!server) throw new CliError("MINIO_KMS_SERVER is not set: export MINIO_KMS_SERVER=host:port");
      const since = sinceOf(args.values.since as string | undefined);
      const level = Level[(enumFlag(args.values.level, "--level", ["debug", "info", "warn", "error"]) ?? "info") as LevelName];
      const follow = args.values.follow === true;
      const opts = connectOptions(args, undefined, [server]);
      const body = encode("LogRequest", { level, message: "", since: timestamp(since), trace_level: 0 });
      // A followed log may stay quiet for long: no idle deadline once the records stream.
      const reply = await streamRequest(opts, server, "POST", `/v1/debug/log${follow ? "" : "?follow=false"}`, body, {
        "content-type": "application/octet-stream", accept: "application/octet-stream",
      }, follow ? { streamIdleMs: 0 } : {});
      const stop = () => reply.destroy();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        const frames = new FrameReader();
        for await (const chunk of reply) {
          for (const payload of frames.push(new Uint8Array(chunk as Buffer))) {
            const r = recordOf(payload);
            console.log(args.values.json ? jsonLine(r) : textLine(r));
          }
        }
      } catch {
        // the connection closed (or Ctrl-C): the stream ends
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    },
  },
];
