/**
 * Streamed HTTPS replies (the log streams; backups and restores use stream.ts): the body arrives chunk by chunk
 * for as long as the server sends it. Bun's fetch streams with client
 * certificates; elsewhere node:https does.
 */
import https from "node:https";
import type { TransportOptions } from "../net/transport.ts";
import { TransportError } from "../net/transport.ts";

/** A streamed reply: status, content type, and the body's chunks. */
export interface StreamReply {
  readonly status: number;
  readonly contentType: string;
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Stops reading and closes the connection. */
  close(): void;
}

/** Sends one request and returns as soon as the reply's header is in. */
export async function streamRequest(opts: TransportOptions, base: string, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<StreamReply> {
  const url = new URL(path, base);
  if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") {
    const abort = new AbortController();
    let res: Response;
    try {
      res = await fetch(url, {
        method, body: body as BodyInit | undefined, headers, signal: abort.signal,
        tls: { key: opts.key, cert: opts.cert, ca: opts.ca, rejectUnauthorized: !opts.insecure, serverName: opts.serverName },
      } as RequestInit);
    } catch (err) {
      throw new TransportError(`${url.host}: ${(err as Error).message}`, err);
    }
    const reader = res.body!.getReader();
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      chunks: (async function* () {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
          }
        } catch {
          // the connection closed: the stream ends
        }
      })(),
      close: () => abort.abort(),
    };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, key: opts.key, cert: opts.cert, ca: opts.ca, rejectUnauthorized: !opts.insecure, servername: opts.serverName,
      headers: body ? { ...headers, "content-length": String(body.length) } : headers,
    }, (res) => resolve({
      status: res.statusCode ?? 0,
      contentType: String(res.headers["content-type"] ?? ""),
      chunks: (async function* () {
        try {
          for await (const c of res) yield new Uint8Array(c as Buffer);
        } catch {
          // the connection closed: the stream ends
        }
      })(),
      close: () => req.destroy(),
    }));
    req.on("error", (e) => reject(new TransportError(`${url.host}: ${e.message}`, e)));
    req.end(body);
  });
}
