/** A small JSON-over-HTTP(S) client on node:http(s), which Bun and Deno both provide with custom CAs and client certificates. */
import http from "node:http";
import https from "node:https";

/** TLS settings for a remote service. */
export interface HttpTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** A reply: status and parsed JSON body (undefined when empty or not JSON). */
export interface JsonReply {
  readonly status: number;
  readonly json: unknown;
}

/** Thrown when no reply came at all (refused, reset, timed out). */
export class NoReplyError extends Error {}

/** A keep-alive JSON client for one base URL. */
export class JsonClient {
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #timeoutMs: number;

  constructor(base: string, tls: HttpTls = {}, timeoutMs = 10_000) {
    this.#base = new URL(base);
    this.#agent = this.#base.protocol === "https:"
      ? new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key })
      : new http.Agent({ keepAlive: true });
    this.#timeoutMs = timeoutMs;
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
    const url = new URL(path, this.#base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const lib = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {
        method,
        agent: this.#agent,
        timeout: this.#timeoutMs,
        headers: { accept: "application/json", ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}), ...headers },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on("error", (e) => reject(new NoReplyError(e.message)));
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (e) => reject(new NoReplyError((e as NodeJS.ErrnoException).code ?? e.message)));
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
