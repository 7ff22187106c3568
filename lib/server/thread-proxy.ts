/**
 * Requests a serving thread does not serve itself, answered by the main
 * thread's app: the thread sends the request (method, path, headers, body,
 * and the client's identity, certificate and address, which the app
 * authorises by), the main thread runs its app and sends the reply back;
 * a streaming reply (log streams, backups) comes one chunk per pull, so at
 * most one chunk per stream is in flight.
 */
import type { Hono } from "hono";
import type { Env, Bindings } from "../net/env.ts";
import { withLength } from "../net/serve.ts";
import { streamingReply } from "../log/feed.ts";
import type { FromThread, ProxiedRequest, ToThread } from "./thread-messages.ts";

/** Largest body a serving thread hands on (the app's largest limit, node-to-node snapshots; each route bounds its own). */
export const MAX_PROXIED_BODY = 256 << 20;

type Reply = Extract<ToThread, { t: "response" }>;

/** Headers about one connection's framing, not the request's (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"]);

/** The serving thread's half: sends requests to the main thread and turns its replies into Responses. */
export class ProxyClient {
  readonly #post: (m: FromThread, transfer?: Transferable[]) => void;
  #next = 0;
  readonly #replies = new Map<number, (r: Reply) => void>();
  readonly #chunks = new Map<number, (chunk: Uint8Array | null) => void>();

  constructor(post: (m: FromThread, transfer?: Transferable[]) => void) {
    this.#post = post;
  }

  /** Takes a message of the main thread about a proxied request; false if it is not one. */
  take(m: ToThread): boolean {
    if (m.t === "response") {
      this.#replies.get(m.id)?.(m);
      this.#replies.delete(m.id);
      return true;
    }
    if (m.t === "chunk") {
      const give = this.#chunks.get(m.id);
      this.#chunks.delete(m.id);
      give?.(m.chunk);
      return true;
    }
    return false;
  }

  /** Answers `req` (its body already read, or null) with the main thread's app, as `env`'s client. */
  async fetch(method: string, url: string, headers: Array<[string, string]>, body: Uint8Array | null, env: Bindings): Promise<Response> {
    const id = ++this.#next;
    const reply = new Promise<Reply>((resolve) => this.#replies.set(id, resolve));
    const m: ProxiedRequest = { t: "request", id, method, url, headers, body, env: { identity: env.identity, certificate: env.certificate, ip: env.ip } };
    this.#post(m, body ? [body.buffer as ArrayBuffer] : []);
    const r = await reply;
    if (!r.stream) return new Response(r.body as Uint8Array<ArrayBuffer> | null, { status: r.status, headers: r.headers });
    const stream = new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        const chunk = await new Promise<Uint8Array | null>((resolve) => {
          this.#chunks.set(id, resolve);
          this.#post({ t: "pull", id });
        });
        if (chunk) ctrl.enqueue(chunk);
        else ctrl.close();
      },
      cancel: () => {
        this.#chunks.get(id)?.(null);
        this.#chunks.delete(id);
        this.#post({ t: "cancel", id });
      },
    }, { highWaterMark: 0 });
    const type = r.headers.find(([k]) => k === "content-type")?.[1] ?? "application/octet-stream";
    if (r.status === 200) return streamingReply(stream, type);
    return new Response(stream, { status: r.status, headers: r.headers });
  }
}

/** The main thread's half: answers proxied requests with `app` and hands out streaming replies chunk by chunk. */
export class ProxyServer {
  readonly #app: Hono<Env>;
  readonly #streams = new Map<number, ReadableStreamDefaultReader<Uint8Array>>();

  constructor(app: Hono<Env>) {
    this.#app = app;
  }

  /** Takes a serving thread's message about a proxied request (`post` answers it); false if it is not one. */
  take(m: FromThread, post: (m: ToThread, transfer?: Transferable[]) => void): boolean {
    if (m.t === "request") {
      void this.#serve(m, post);
      return true;
    }
    if (m.t === "pull") {
      void this.#pull(m.id, post);
      return true;
    }
    if (m.t === "cancel") {
      void this.#streams.get(m.id)?.cancel().catch(() => {});
      this.#streams.delete(m.id);
      return true;
    }
    return false;
  }

  async #serve(m: ProxiedRequest, post: (m: ToThread, transfer?: Transferable[]) => void): Promise<void> {
    let res: Response;
    try {
      const host = m.headers.find(([k]) => k === "host")?.[1] ?? "localhost";
      const hasBody = m.body !== null && m.method !== "GET" && m.method !== "HEAD";
      // The body arrives whole: how it was framed on the client's connection does not cross.
      const headers = m.headers.filter(([k]) => !HOP_BY_HOP.has(k));
      if (hasBody) headers.push(["content-length", String(m.body!.length)]);
      const req = new Request(`https://${host}${m.url}`, { method: m.method, headers, body: hasBody ? m.body as Uint8Array<ArrayBuffer> : undefined });
      res = await withLength(await this.#app.fetch(req, m.env));
    } catch {
      // The app's error handler answers every failure; this is past it (or the request could not be rebuilt).
      post({ t: "response", id: m.id, status: 500, headers: [["content-type", "application/json"]], body: new TextEncoder().encode('{"message":"internal error"}'), stream: false });
      return;
    }
    const headers = [...res.headers];
    if (!res.headers.has("content-length") && res.body) {
      this.#streams.set(m.id, res.body.getReader());
      post({ t: "response", id: m.id, status: res.status, headers, body: null, stream: true });
      return;
    }
    const body = res.body ? new Uint8Array(await res.arrayBuffer()) : null;
    post({ t: "response", id: m.id, status: res.status, headers, body, stream: false }, body ? [body.buffer as ArrayBuffer] : []);
  }

  async #pull(id: number, post: (m: ToThread, transfer?: Transferable[]) => void): Promise<void> {
    const reader = this.#streams.get(id);
    if (!reader) return post({ t: "chunk", id, chunk: null });
    try {
      const { done, value } = await reader.read();
      if (done) this.#streams.delete(id);
      post({ t: "chunk", id, chunk: done ? null : value });
    } catch {
      this.#streams.delete(id);
      post({ t: "chunk", id, chunk: null });
    }
  }

  /** Ends every stream (the node stops). */
  closeAll(): void {
    for (const r of this.#streams.values()) void r.cancel().catch(() => {});
    this.#streams.clear();
  }
}
