/**
 * kms's one HTTP client: requests to a server's base URL with an optional
 * client certificate and custom trust, the whole reply read. The CLI's
 * client, node-to-node calls and the edge's key stores (through the JSON
 * layer of json-client.ts) all go through it.
 */
import http from "node:http";
import https from "node:https";
import { CLIENT_ERROR_MESSAGE } from "./errors.ts";

/** TLS settings of a client: its certificate (if any), and how it trusts the server. */
export interface TransportOptions {
  readonly key?: string;
  readonly cert?: string;
  /** PEM CA certificate(s) to trust instead of the system's. */
  readonly ca?: string;
  /** Skip server certificate verification (self-signed dev servers only). */
  readonly insecure?: boolean;
  /** The server name to ask for (SNI) and to verify the certificate against, instead of the URL's host. */
  readonly serverName?: string;
  readonly timeoutMs?: number;
}

/** An HTTP reply: status, content type and body. */
export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** Certificate verification failures, as node:tls and Bun's fetch name them. */
const UNTRUSTED = /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate|certificate signature failure/i;

/** Thrown when a server cannot be reached at all (as opposed to answering with an error). */
export class TransportError extends Error {
  /** False when the request certainly never reached the server (connection refused, certificate refused). */
  readonly maybeDelivered: boolean;
  /** The server's certificate did not verify: the request was never sent. */
  readonly untrusted: boolean;
  /** The system or TLS error code of the cause (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, …), if any. */
  readonly code?: string;
  constructor(message: string, cause?: unknown) {
    super(message);
    const code = (cause as { code?: string } | undefined)?.code;
    this.code = code;
    this.untrusted = UNTRUSTED.test(code ?? "") || UNTRUSTED.test(message);
    this.maybeDelivered = code !== "ECONNREFUSED" && code !== "ConnectionRefused" && !this.untrusted;
  }
}

/** Sends HTTP(S) requests, with a client certificate when given one. */
export interface Transport {
  /** Sends one request to `base` (https://host:port, or http://) and reads the whole reply. */
  request(base: string, method: string, path: string, body?: Uint8Array, headers?: Record<string, string>): Promise<HttpReply>;
  /** Closes idle connections. */
  close(): void;
}

/** The fastest transport of this runtime: Bun's fetch (2× its node:https), node:https elsewhere. */
export function createTransport(opts: TransportOptions): Transport {
  const inner = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? new BunFetchTransport(opts) : new NodeTransport(opts);
  return {
    async request(base, method, path, body, headers) {
      const reply = await inner.request(base, method, path, body, headers);
      if (isMangled(reply)) throw new TransportError(`${new URL(base).host}: ${MANGLED}`);
      return reply;
    },
    close: () => inner.close(),
  };
}

const MANGLED = "the server received this request incomplete (it was sent whole: mangled on the way, likely re-sent after a broken connection), so whether an earlier attempt applied is not known";

/**
 * A kms server's 400 for a request it could not read whole. We always send
 * whole requests, so this reply means the request was mangled on the way
 * (likely re-sent by the runtime after a reused connection broke, as Bun's
 * fetch does), and an earlier attempt may have reached a server: a transport
 * error, not a definite refusal.
 */
export function isMangled(reply: HttpReply): boolean {
  if (reply.status !== 400 || reply.body.length > 256) return false;
  try {
    return (JSON.parse(new TextDecoder().decode(reply.body)) as { message?: unknown }).message === CLIENT_ERROR_MESSAGE;
  } catch {
    return false;
  }
}

/** Bun's fetch, which takes client certificates through its `tls` option. */
class BunFetchTransport implements Transport {
  readonly #tls: Record<string, unknown>;
  readonly #timeoutMs: number;

  constructor(opts: TransportOptions) {
    this.#tls = { key: opts.key, cert: opts.cert, ca: opts.ca, rejectUnauthorized: !opts.insecure, serverName: opts.serverName };
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async request(base: string, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<HttpReply> {
    const url = new URL(path, base);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        body: body as BodyInit | undefined,
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
        tls: this.#tls,
      } as RequestInit);
    } catch (err) {
      throw new TransportError(`${url.host}: ${(err as Error).message}`, err);
    }
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: new Uint8Array(await res.arrayBuffer()) };
  }

  close(): void {}
}

/** Keep-alive node:https (and node:http), which Deno (and Node) provide with client certificates. */
class NodeTransport implements Transport {
  readonly #agent: https.Agent;
  readonly #plain = new http.Agent({ keepAlive: true });
  readonly #timeoutMs: number;

  constructor(opts: TransportOptions) {
    this.#agent = new https.Agent({
      keepAlive: true,
      key: opts.key,
      cert: opts.cert,
      ca: opts.ca,
      rejectUnauthorized: !opts.insecure,
      servername: opts.serverName,
    });
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Sends one request to `base` (https://host:port) and reads the whole reply. */
  request(base: string, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<HttpReply> {
    const url = new URL(path, base);
    const tls = url.protocol === "https:";
    return new Promise((resolve, reject) => {
      const req = (tls ? https : http).request(url, {
        method,
        agent: tls ? this.#agent : this.#plain,
        timeout: this.#timeoutMs,
        headers: body ? { ...headers, "content-length": String(body.length) } : headers,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: new Uint8Array(Buffer.concat(chunks)),
          }));
        res.on("error", (e) => reject(new TransportError(`${url.host}: ${e.message}`, e)));
      });
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", (e) => reject(new TransportError(`${url.host}: ${e.message}`, e)));
      req.end(body);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.#agent.destroy();
    this.#plain.destroy();
  }
}
