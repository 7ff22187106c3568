/**
 * The native log stream's framing (POST /v1/debug/log): each record is a
 * LogRecord protobuf of at most 4 KiB behind its uint32 big-endian length.
 * MinIO's client reads records into a 4 KiB buffer and parses the request's
 * IP, so longer messages are cut and a record's request part is sent only
 * with a valid IP.
 */
import { isIP } from "node:net";
import type { LogRecord } from "../log/logger.ts";
import { encode, timestamp } from "../wire/proto.ts";

/** Largest LogRecord message. */
export const MAX_RECORD = 4096;

/** One length-prefixed LogRecord. */
export function logFrame(r: LogRecord): Uint8Array {
  const fields = Object.entries(r.fields ?? {}).map(([k, v]) => ` ${k}=${v}`).join("");
  let message = r.msg + fields;
  const req = r.req && isIP(r.req.ip) ? { method: r.req.method, path: r.req.path, identity: r.req.identity, ip: r.req.ip } : undefined;
  for (;;) {
    const body = encode("LogRecord", { level: r.level, time: timestamp(r.time), message, ...(req && { request: req }) });
    if (body.length <= MAX_RECORD) {
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      return out;
    }
    message = message.slice(0, Math.max(0, message.length - (body.length - MAX_RECORD) - 16)) + "…";
  }
}
