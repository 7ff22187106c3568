import http from "node:http";
import https from "node:https";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { setImmediate } from "node:timers";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { identityOfCertificate } from "../identity/identity.ts";
import { isStreamingReply } from "../log/feed.ts";
import { rawBadRequest } from "./errors.ts";
import { ConnectionGuard, type ConnectionLimits, DEFAULT_LIMITS } from "./connections.ts";
import type { Env } from "./env.ts";

/** TLS material and address of a listener. */
export interface ServeOptions {
  readonly key: string;
  readonly cert: string;
  readonly hostname: string;
  readonly port: number;
  /** Passphrase of an encrypted private key. */
  readonly passphrase?: string;
  /** PEM CA certificates client certificates must chain to when verifyClients is set. */
  readonly ca?: string;
  /** Only verified client certificates give an identity (default: any certificate does). */
  readonly verifyClients?: boolean;
  /** Connection deadlines and cap (default DEFAULT_LIMITS). */
  readonly limits?: Partial<ConnectionLimits>;
  /** Other certificates for clients that ask for these server names (SNI): how nodes reach each other. */
  readonly sni?: ReadonlyArray<{ readonly servername: string; readonly key: string; readonly cert: string }>;
  /**
   * While this says true, connections of clients (not of nodes, which ask for
   * the `sni` name) are closed after the handshake: a starting node cannot
   * answer them, and a client that cannot connect tries another node (a 503
   * it would not retry).
   */
  readonly refuseClients?: () => boolean;
  /** Listen with SO_REUSEPORT, so several threads' listeners share the port (lib/server/threads.ts). */
  readonly reusePort?: boolean;
}

/** A listening server. */
export interface Listener {
  readonly port: number;
  /** Replaces the certificate and key for new connections (e.g. on reload). */
  setTls(tls: { key: string; cert: string; passphrase?: string; ca?: string }): void;
  /** Replaces the certificate shown to clients asking for `servername` (one of opts.sni's). */
  setSni(servername: string, tls: { key: string; cert: string }): void;
  /** The connection bookkeeping (counts of cut connections, for tests). */
  readonly guard: ConnectionGuard;
  /**
   * Stops listening: idle connections end now, busy ones after their reply;
   * after deadlineMs (default: limits.shutdownMs) the rest are cut.
   */
  close(deadlineMs?: number): Promise<void>;
}

type PeerSocket = tls.TLSSocket;
/** A connection's client: its h1: identity and DER certificate, if it presented one. */
export type Peer = { identity: string | undefined; certificate: Uint8Array | undefined };

/** A reply written straight to node:http: status, headers (Content-Length included) and the whole body. */
export interface RawReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** One array, or pieces in order (a large reply built as it was made), each written in a turn of its own. */
  readonly body: Uint8Array | readonly Uint8Array[];
}

/** A raw reply's body as one array (its pieces joined). */
export function replyBytes(body: RawReply["body"]): Uint8Array {
  if (body instanceof Uint8Array) return body;
  let size = 0;
  for (const b of body) size += b.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const b of body) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A request body went past RawRoute.maxBody while it was read. */
export class BodyTooLarge extends Error {}

/** What a raw route is told about a request before its body is read. */
export interface RawRequest {
  readonly method: string;
  /** The URL's path (a raw route matches only URLs without a query). */
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly peer: Peer;
  /** The client's address. */
  readonly ip: string | undefined;
}

/**
 * A route served without the web Request/Response adapter: a protocol's hot
 * path, where building a Request, its streams and an AbortController per
 * request cost more than the work itself, and where headers and body must
 * leave in one write. Requests it does not match go to the app.
 */
export interface RawRoute {
  /** The route's parameter for `method url`, or undefined: the app serves it. */
  match(method: string, url: string): string | undefined;
  /** Largest body: a larger Content-Length is answered tooLarge() unread; a longer body makes read() reject with BodyTooLarge. */
  readonly maxBody: number;
  /** Starts serving one matched request: exactly one of its answers is asked for, then end() once. */
  begin(param: string, req: RawRequest): RawExchange;
}

/** One request on a raw route, from its headers to its reply. */
export interface RawExchange {
  /** Serves the request; `read` gives the whole body. Rejects only with what `read` rejected with (answered tooLarge() or failed()). */
  handle(read: () => Promise<Uint8Array>): Promise<RawReply>;
  /** The answer to a body over maxBody. */
  tooLarge(): RawReply;
  /** The answer to a request that failed outside handle() (the client's stream broke): logged as the app logs it. */
  failed(err: unknown): RawReply;
  /** Takes the answer about to be written (whether or not the client still waits) and gives what is written. */
  end(reply: RawReply): RawReply;
  /** Forgets the request without an answer to record (a serving thread handed it to the main thread). */
  drop?(): void;
}
const peers = new WeakMap<PeerSocket, Peer>();

/** The h1: identity and DER certificate of a connection's client, computed once per connection. */
function peerOf(socket: PeerSocket, verified: boolean): Peer {
  let peer = peers.get(socket);
  if (peer) return peer;
  peer = { identity: undefined, certificate: undefined };
  const cert = socket.getPeerCertificate?.(true);
  if (cert?.raw && (!verified || socket.authorized)) {
    peer.certificate = new Uint8Array(cert.raw);
    peer.identity = identityOfCertificate(peer.certificate);
  }
  peers.set(socket, peer);
  return peer;
}

/**
 * TLS 1.2 suites with forward secrecy and an AEAD (AES-GCM, ChaCha20-Poly1305);
 * TLS 1.3 suites are all AEAD. No CBC, no static RSA key exchange.
 */
export const CIPHERS = [
  "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Content types of replies that stream by design and so carry no Content-Length. */
const STREAMING = /^(application\/x-ndjson|text\/event-stream|application\/vnd\.kms\.backup)\b/;

/**
 * The reply with an exact Content-Length: clients such as MinIO's refuse
 * replies without one ("request content length is negative"), so bodies are
 * buffered (they are small) unless the route streams by design.
 */
export async function withLength(res: Response): Promise<Response> {
  if (res.headers.has("content-length") || isStreamingReply(res) || STREAMING.test(res.headers.get("content-type") ?? "")) return res;
  const noBody = res.status === 204 || res.status === 304;
  const body = noBody || !res.body ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
  const headers = new Headers(res.headers);
  if (!noBody) headers.set("content-length", String(body.length));
  return new Response(noBody ? null : body, { status: res.status, statusText: res.statusText, headers });
}

/**
 * Serves a hono app over TLS, asking every client for a certificate but
 * accepting any (or none): identity is the public key, and /version and the
 * health checks must answer probes without one. Bun only exposes client
 * certificates on node:tls sockets, so there the TLS server hands sockets to
 * node:http; Deno's bridge breaks keep-alive, so there node:https is used.
 * Every connection is bounded by `limits` (connections.ts).
 */
export function serveTls(app: Hono<Env>, opts: ServeOptions, raw?: RawRoute | readonly RawRoute[]): Promise<Listener> {
  const routes: readonly RawRoute[] = raw === undefined ? [] : "match" in raw ? [raw] : raw;
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const guard = new ConnectionGuard(limits);
  const handle = getRequestListener(async (request, env) => {
    const socket = (env as { incoming: http.IncomingMessage }).incoming.socket as PeerSocket;
    const peer = peerOf(socket, opts.verifyClients === true);
    const res = await withLength(await app.fetch(request, { identity: peer.identity, certificate: peer.certificate, ip: socket.remoteAddress }));
    if (isStreamingReply(res) || STREAMING.test(res.headers.get("content-type") ?? "")) guard.replyStreaming(socket);
    else guard.replyReady(socket);
    return res;
  });
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    // The first raw route that matches serves the request; the app serves what none matches.
    let route: RawRoute | undefined, param: string | undefined;
    for (const r of routes) {
      param = r.match(req.method ?? "", req.url ?? "");
      if (param !== undefined) {
        route = r;
        break;
      }
    }
    const hasBody = req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0" || req.headers["transfer-encoding"] !== undefined;
    guard.requestStarted(socket);
    // The body deadline ends when the body is in: now, when serveRaw has read it, or when the app's has ended.
    const bodyDue = !req.complete && hasBody;
    if (!bodyDue) guard.bodyDone(socket);
    else if (param === undefined) {
      const bodyIn = () => guard.bodyDone(socket);
      req.once("end", bodyIn).once("close", bodyIn);
    }
    if (guard.closing) res.setHeader("connection", "close");
    let done = false;
    const replied = () => {
      if (!done) guard.replyDone(socket);
      if (!done && !res.writableFinished) guard.canceled++;
      done = true;
    };
    // on, not once: a reply emits each at most once, and replied() counts only the first.
    res.on("finish", replied).on("close", replied);
    if (route && param !== undefined) {
      const peer = peerOf(socket as PeerSocket, opts.verifyClients === true);
      const exchange = route.begin(param, { method: req.method!, path: req.url!, headers: req.headers, peer, ip: socket.remoteAddress });
      return serveRaw(exchange, route.maxBody, req, res, guard, bodyDue);
    }
    return handle(req, res);
  };
  const context = (m: { key: string; cert: string }) => tls.createSecureContext({ key: m.key, cert: m.cert, minVersion: "TLSv1.2", ciphers: CIPHERS, honorCipherOrder: true });
  const sni = opts.sni && new Map(opts.sni.map((m) => [m.servername, context(m)]));
  const tlsOptions = {
    key: opts.key, cert: opts.cert, passphrase: opts.passphrase, ca: opts.ca,
    requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" as const,
    ciphers: CIPHERS, honorCipherOrder: true, handshakeTimeout: limits.handshakeMs,
    ...(sni && {
      SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => cb(null, sni.get(name)),
    }),
  };
  const secured = (socket: tls.TLSSocket) => {
    const asked = (socket as { servername?: string | false }).servername;
    if (opts.refuseClients?.() && !opts.sni?.some((s) => s.servername === asked)) {
      guard.cut.refused++;
      return void socket.destroy();
    }
    guard.secured(socket, hasCertificate(socket));
  };
  let server: tls.Server | https.Server;
  let inner: http.Server;
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") {
    const h = https.createServer(tlsOptions, listener);
    // The guard enforces idle time; node's own keep-alive timer must not cut earlier.
    h.keepAliveTimeout = limits.idleMs + 1000;
    h.on("secureConnection", secured);
    server = inner = h;
  } else {
    inner = http.createServer(listener);
    server = tls.createServer(tlsOptions, (socket) => {
      secured(socket);
      if (!socket.destroyed) inner.emit("connection", socket);
    });
    server.on("close", () => inner.close());
  }
  server.on("connection", (socket: net.Socket) => guard.accepted(socket));
  // Unparsable requests: answer 400 in JSON with an exact length (the runtimes' own 400 has none), then close.
  (inner as http.Server).on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const replying = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (socket.writable && !replying && err.code !== "ECONNRESET") socket.end(rawBadRequest(err.code));
    socket.destroy();
  });
  server.on("tlsClientError", (_err, socket) => socket.destroy()); // a failed handshake is the client's problem, not the server's
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: opts.port, host: opts.hostname, ...(opts.reusePort && { reusePort: true }) }, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        guard,
        setTls: (t) => server.setSecureContext({ ...tlsOptions, ...t }),
        setSni: (name, t) => {
          if (sni?.has(name)) sni.set(name, context(t));
        },
        close: async (deadlineMs) => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          await guard.close(deadlineMs);
          // Every connection is gone now; the server's own close may still wait on bookkeeping.
          await Promise.race([closed, new Promise((r) => setTimeout(r, 100))]);
        },
      });
    });
  });
}

/** Serves a request on a raw route and writes its reply in one piece. */
async function serveRaw(x: RawExchange, maxBody: number, req: http.IncomingMessage, res: http.ServerResponse, guard: ConnectionGuard, bodyDue: boolean): Promise<void> {
  let reply: RawReply;
  // The body's deadline ends when it is in, or when the request fails reading it.
  const read = () => {
    const body = readBody(req, maxBody);
    if (bodyDue) void body.then(() => guard.bodyDone(req.socket), () => {});
    return body;
  };
  try {
    const length = req.headers["content-length"];
    if (length !== undefined && Number(length) > maxBody) reply = x.tooLarge();
    else {
      // A body of unknown length is read (and bounded) before the route runs, as hono's bodyLimit does.
      const early = length === undefined ? await read() : undefined;
      reply = await x.handle(() => (early ? Promise.resolve(early) : read()));
    }
  } catch (err) {
    reply = err instanceof BodyTooLarge ? x.tooLarge() : x.failed(err);
  }
  reply = x.end(reply);
  guard.replyReady(req.socket);
  if (res.destroyed) return;
  const socket = req.socket;
  const pieces = reply.body instanceof Uint8Array ? [reply.body] : reply.body;
  const first = pieces[0] ?? new Uint8Array(0);
  socket.cork();
  res.writeHead(reply.status, reply.headers as http.OutgoingHttpHeaders);
  if (pieces.length <= 1 && first.length <= REPLY_PIECE) res.end(first);
  else res.write(first.subarray(0, REPLY_PIECE));
  socket.uncork();
  if (pieces.length > 1 || first.length > REPLY_PIECE) await writePieces(res, [first.subarray(REPLY_PIECE), ...pieces.slice(1)]);
}

/**
 * Bytes of a reply written in one turn of the event loop. A 10,000-frame
 * reply is over a megabyte, and a socket write encrypts (TLS) and copies all
 * it is given before returning: given whole, it held the thread for
 * milliseconds (tens on a loaded machine) while other connections waited.
 */
export const REPLY_PIECE = 64 << 10;

/**
 * Writes `body` (pieces in order) to `out` in pieces of at most REPLY_PIECE,
 * letting the event loop turn before each (and waiting for 'drain' when the
 * socket's buffer is full), then ends it. Stops early when `out` is
 * destroyed (the client went away, or the connection guard cut a slow reader).
 */
export async function writePieces(out: Pick<http.ServerResponse, "write" | "end" | "destroyed" | "once" | "off">, body: readonly Uint8Array[]): Promise<void> {
  const parts: Uint8Array[] = [];
  for (const b of body) for (let at = 0; at < b.length; at += REPLY_PIECE) parts.push(b.subarray(at, at + REPLY_PIECE));
  if (parts.length === 0) return void out.end();
  for (let i = 0; i < parts.length; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (out.destroyed) return;
    if (i === parts.length - 1) return void out.end(parts[i]);
    if (!out.write(parts[i])) await drained(out);
  }
}

/** Resolves when `out` can take more, or is closed. */
function drained(out: Pick<http.ServerResponse, "once" | "off">): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done).off("close", done);
      resolve();
    };
    out.once("drain", done).once("close", done);
  });
}

/** The whole body of `req`, rejecting with BodyTooLarge past `max` bytes. */
function readBody(req: http.IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // A plain Uint8Array over its own memory, as Request.arrayBuffer() gives: no Buffer
      // semantics downstream (Buffer.slice shares memory), nothing aliased with the socket's reads.
      const body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(body);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(Object.assign(new Error("request aborted"), { code: "ECONNRESET" }));
    const cleanup = () => {
      req.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onAborted);
    };
    req.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onAborted);
  });
}

/** Whether the client presented a certificate during the handshake. */
function hasCertificate(socket: tls.TLSSocket): boolean {
  const peer = socket.getPeerCertificate?.();
  return !!peer && Object.keys(peer).length > 0;
}
