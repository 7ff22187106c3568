/** Reads an endless HTTPS reply (a log or audit stream) as it arrives. */
import https from "node:https";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";

/** An open stream: what arrived so far, and how to stop it. */
export interface OpenStream {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Every byte received so far. */
  bytes(): Buffer;
  /** Whether the server ended the stream. */
  ended(): boolean;
  close(): void;
}

/** Opens `method path` on the server with the API key's (or PEM credentials') certificate; resolves once the header is in. */
export function openStream(server: { port: number; ca: string }, opts: { path: string; method?: string; body?: Uint8Array; apiKey?: string; credentials?: { cert: string; key: string } }): Promise<OpenStream> {
  const creds = opts.credentials ?? clientCredentials(parseApiKey(opts.apiKey!));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const req = https.request({
      host: "127.0.0.1", port: server.port, method: opts.method ?? "GET", path: opts.path, agent: false, ca: server.ca, cert: creds.cert, key: creds.key,
      headers: opts.body ? { "content-type": "application/octet-stream", "content-length": String(opts.body.length) } : {},
    }, (res) => {
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => (done = true));
      res.on("error", () => (done = true));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: () => Buffer.concat(chunks), ended: () => done, close: () => req.destroy() });
    });
    req.on("error", (err) => (done ? undefined : reject(err)));
    req.end(opts.body);
  });
}
