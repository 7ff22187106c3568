/**
 * Streamed requests, which the buffering transports do not suit: backups,
 * restores and log streams. node:https with the client's certificate, the
 * body piped both ways, an idle deadline instead of a total one.
 * Once the whole body is sent, the server may work on it for long before it
 * answers (a restore installs the whole state first): the reply then gets a
 * deadline of its own, and missing it leaves the outcome unknown.
 */
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { clientCredentials, parseApiKey } from "../identity/apikey.ts";
import { type ClientOptions, errorOf, serverUrl } from "./client.ts";
import { TransportError } from "../net/transport.ts";

/** The whole request was sent but no reply came in time: the server may still carry it out. */
export class OutcomeUnknownError extends TransportError {}

/** Deadlines of a streamed request. */
export interface StreamDeadlines {
  /** No byte either way for this long ends the request (default 60 s). */
  readonly idleMs?: number;
  /** Once the whole body is sent, how long the server may take before its reply starts (default: idleMs). */
  readonly replyMs?: number;
  /** Once the reply streams, no byte for this long ends it (default: idleMs; 0: never, for a log that is followed). */
  readonly streamIdleMs?: number;
}

/** Sends `method path` to `server` with `body` streamed; resolves with the reply once its status is known (a non-200 reply throws KmsClientError). */
export function streamRequest(
  opts: ClientOptions, server: string, method: string, path: string, body?: Readable | Uint8Array, headers: Record<string, string> = {},
  deadlines: StreamDeadlines = {},
): Promise<IncomingMessage> {
  const idleMs = deadlines.idleMs ?? 60_000;
  const replyMs = deadlines.replyMs ?? idleMs;
  const streamIdleMs = deadlines.streamIdleMs ?? idleMs;
  const url = new URL(path, serverUrl(server));
  const { key, cert } = clientCredentials(parseApiKey(opts.apiKey));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, headers, key, cert, ca: opts.ca, rejectUnauthorized: !opts.insecure, timeout: idleMs,
    }, (res) => {
      phase = "reply";
      req.setTimeout(streamIdleMs); // the reply streams: idle again
      if (res.statusCode === 200) return resolve(res);
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => reject(errorOf(res.statusCode ?? 0, String(res.headers["content-type"] ?? ""), new Uint8Array(Buffer.concat(chunks)))));
      res.on("error", reject);
    });
    let phase: "sending" | "waiting" | "reply" = "sending";
    req.on("finish", () => {
      if (phase !== "sending") return;
      phase = "waiting";
      req.setTimeout(replyMs);
    });
    req.on("timeout", () =>
      req.destroy(phase === "waiting"
        ? new OutcomeUnknownError(`${url.host}: no reply ${replyMs / 1000} s after the whole request was sent: its outcome is unknown (it may still complete)`)
        : new Error(`no data for ${idleMs / 1000} s`)));
    req.on("error", (err) => {
      if (err instanceof OutcomeUnknownError || (err instanceof Error && "status" in err)) return reject(err);
      reject(new TransportError(`${url.host}: ${(err as Error).message}`, err));
    });
    if (body instanceof Uint8Array) {
      req.end(body);
    } else if (body) {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}
