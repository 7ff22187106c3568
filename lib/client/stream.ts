/**
 * Streaming requests for large bodies (backups, restores), which the
 * buffering transports do not suit: node:https with the client's
 * certificate, the body piped both ways, an idle deadline instead of a total one.
 */
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { clientCredentials, parseApiKey } from "../identity/apikey.ts";
import { type ClientOptions, errorOf, serverUrl } from "./client.ts";
import { TransportError } from "../net/transport.ts";

/** No byte either way for this long ends the request. */
const IDLE_MS = 60_000;

/** Sends `method path` to `server` with `body` streamed; resolves with the reply once its status is known (a non-200 reply throws KmsClientError). */
export function streamRequest(
  opts: ClientOptions, server: string, method: string, path: string, body?: Readable, headers: Record<string, string> = {},
): Promise<IncomingMessage> {
  const url = new URL(path, serverUrl(server));
  const { key, cert } = clientCredentials(parseApiKey(opts.apiKey));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, headers, key, cert, ca: opts.ca, rejectUnauthorized: !opts.insecure, timeout: IDLE_MS,
    }, (res) => {
      if (res.statusCode === 200) return resolve(res);
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => reject(errorOf(res.statusCode ?? 0, String(res.headers["content-type"] ?? ""), new Uint8Array(Buffer.concat(chunks)))));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no data for ${IDLE_MS / 1000} s`)));
    req.on("error", (err) => reject(err instanceof Error && "status" in err ? err : new TransportError(`${url.host}: ${(err as Error).message}`, err)));
    if (body) {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}
