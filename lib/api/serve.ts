import http from "node:http";
import https from "node:https";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { identityOfCertificate } from "../identity/identity.ts";
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
  /** Another certificate for clients that ask for this server name (SNI): how nodes reach each other. */
  readonly sni?: { readonly servername: string; readonly key: string; readonly cert: string };
}

/** A listening server. */
export interface Listener {
  readonly port: number;
  /** Replaces the certificate and key for new connections (e.g. on reload). */
  setTls(tls: { key: string; cert: string; passphrase?: string; ca?: string }): void;
  close(): Promise<void>;
}

type PeerSocket = tls.TLSSocket;
type Peer = { identity: string | undefined; certificate: Uint8Array | undefined };
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
 * Serves a hono app over TLS, asking every client for a certificate but
 * accepting any (or none): identity is the public key, and /version and the
 * health checks must answer probes without one. Bun only exposes client
 * certificates on node:tls sockets, so there the TLS server hands sockets to
 * node:http; Deno's bridge breaks keep-alive, so there node:https is used.
 */
export function serveTls(app: Hono<Env>, opts: ServeOptions): Promise<Listener> {
  const handle = getRequestListener((request, env) => {
    const socket = (env as { incoming: http.IncomingMessage }).incoming.socket as PeerSocket;
    const peer = peerOf(socket, opts.verifyClients === true);
    return app.fetch(request, { identity: peer.identity, certificate: peer.certificate });
  });
  // On close, idle keep-alive connections end at once and busy ones right
  // after their response, instead of the server waiting for clients to leave.
  let closing = false;
  const open = new Set<net.Socket>();
  const busy = new Map<net.Socket, number>();
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.once("close", () => {
      open.delete(socket);
      busy.delete(socket);
    });
  };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const n = (busy.get(socket) ?? 1) - 1;
      busy.set(socket, n);
      if (closing && n === 0) socket.end();
    });
    return handle(req, res);
  };
  const sni = opts.sni && { name: opts.sni.servername, context: tls.createSecureContext({ key: opts.sni.key, cert: opts.sni.cert, minVersion: "TLSv1.2" }) };
  const tlsOptions = {
    key: opts.key, cert: opts.cert, passphrase: opts.passphrase, ca: opts.ca,
    requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" as const,
    ...(sni && {
      SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => cb(null, name === sni.name ? sni.context : undefined),
    }),
  };
  let server: tls.Server | https.Server;
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") {
    server = https.createServer(tlsOptions, listener);
    server.on("secureConnection", track);
  } else {
    const inner = http.createServer(listener);
    server = tls.createServer(tlsOptions, (socket) => {
      track(socket);
      inner.emit("connection", socket);
    });
    server.on("close", () => inner.close());
  }
  server.on("tlsClientError", () => {}); // a failed handshake is the client's problem, not the server's
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        setTls: (t) => server.setSecureContext({ ...tlsOptions, ...t }),
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            server.close(() => done());
            for (const socket of open) if (!busy.get(socket)) socket.end();
          }),
      });
    });
  });
}
