/** A JSON layer over the transport: for HTTP APIs such as Vault's, one base URL per client. */
import { createTransport, type Transport } from "./transport.ts";

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

/** A keep-alive JSON client for one base URL; a request that gets no reply at all throws TransportError. */
export class JsonClient {
  readonly #base: string;
  readonly #transport: Transport;

  constructor(base: string, tls: HttpTls = {}, timeoutMs = 10_000) {
    this.#base = base;
    this.#transport = createTransport({ ...tls, timeoutMs });
  }

  /** Sends `body` (if any) as JSON and parses the reply's. */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
    const payload = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
    const reply = await this.#transport.request(this.#base, method, path, payload, {
      accept: "application/json", ...(payload ? { "content-type": "application/json" } : {}), ...headers,
    });
    const text = new TextDecoder().decode(reply.body);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: reply.status, json };
  }

  /** Closes idle connections. */
  close(): void {
    this.#transport.close();
  }
}
