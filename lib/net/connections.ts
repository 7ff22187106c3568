/**
 * Bounds on client connections: every phase of a connection has a deadline,
 * and the number of connections has a cap, so idle, slow or silent clients
 * cannot hold the server's sockets (and file descriptors) forever. Neither
 * Bun's node:http nor its TLS server enforces handshake, header, idle or body
 * timeouts (measured), so this module does, on both runtimes, with one timer
 * per connection. Defaults and reasons: docs/limits.md.
 */
import type net from "node:net";

/** Deadlines (milliseconds) and the connection cap. */
export interface ConnectionLimits {
  /** TCP accept → TLS handshake done. */
  readonly handshakeMs: number;
  /** First byte of a request (or the handshake, for a connection's first request) → its complete header. */
  readonly headerMs: number;
  /** Keep-alive: end of a reply → first byte of the next request. */
  readonly idleMs: number;
  /** Complete header → complete body. */
  readonly bodyMs: number;
  /** Reply ready → reply handed to the kernel (a client that stops reading is cut). */
  readonly writeMs: number;
  /** Most open connections; at the cap the oldest idle one is shed for a new one. */
  readonly maxConnections: number;
  /** On close: how long busy requests may still finish before their connections are cut. */
  readonly shutdownMs: number;
}

/** The defaults: see docs/limits.md for why each is what it is. */
export const DEFAULT_LIMITS: ConnectionLimits = {
  handshakeMs: 10_000,
  headerMs: 10_000,
  idleMs: 60_000,
  bodyMs: 30_000,
  writeMs: 30_000,
  maxConnections: 512,
  shutdownMs: 5_000,
};

/**
 * Where a connection is: waiting for the handshake, for a request (before its
 * first byte), for the rest of a request header, for the body, for the
 * handler, or for the reply to be flushed.
 */
export type Phase = "handshake" | "waiting" | "header" | "body" | "handling" | "writing";

interface Conn {
  readonly key: string;
  socket: net.Socket;
  phase: Phase;
  since: number;
  /** When the phase's deadline passes (ms since the epoch), or 0 for none. */
  deadline: number;
  timer?: ReturnType<typeof setTimeout>;
  /** When the armed timer fires: at or before the deadline, never after. */
  firesAt: number;
  /** The client presented a certificate: it is shed after those that did not. */
  certified: boolean;
  /** Requests started and not yet replied to. */
  inFlight: number;
  /** Waiting for the socket's write buffer to drain. */
  draining?: boolean;
}

/** Phases in which a connection holds no request: it may be shed or closed at once. */
const IDLE: ReadonlySet<Phase> = new Set(["handshake", "waiting", "header"]);

/** Tracks every connection of one listener and enforces the limits. */
export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  // Keyed by the remote address: Deno's TLS server hands out a new socket
  // object for the secured connection, Bun the same one.
  readonly #conns = new Map<string, Conn>();
  readonly #bySocket = new WeakMap<net.Socket, Conn>();
  #closing = false;
  #drained?: () => void;
  /** Connections cut by each deadline or shed at the cap, for tests and metrics. */
  readonly cut: Record<Phase | "shed" | "refused", number> = { handshake: 0, waiting: 0, header: 0, body: 0, handling: 0, writing: 0, shed: 0, refused: 0 };

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  /** Number of open connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** Open connections per phase. */
  phases(): Partial<Record<Phase, number>> {
    const out: Partial<Record<Phase, number>> = {};
    for (const c of this.#conns.values()) out[c.phase] = (out[c.phase] ?? 0) + 1;
    return out;
  }

  /** Whether the listener is closing (replies then carry `connection: close`). */
  get closing(): boolean {
    return this.#closing;
  }

  /** A TCP connection was accepted (before TLS). At the cap, sheds an idle connection or refuses this one. */
  accepted(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#conns.size >= this.#limits.maxConnections) {
      const victim = this.#sheddable();
      if (!victim) {
        this.cut.refused++;
        socket.destroy();
        return;
      }
      this.cut.shed++;
      this.#drop(victim);
    }
    const conn: Conn = { key: keyOf(socket), socket, phase: "handshake", since: Date.now(), deadline: 0, firesAt: 0, certified: false, inFlight: 0 };
    this.#conns.set(conn.key, conn);
    this.#bySocket.set(socket, conn);
    socket.once("close", () => this.#forget(conn));
    this.#enter(conn, "handshake");
  }

  /** The TLS handshake finished on `socket` (possibly a new object for the same connection). */
  secured(socket: net.Socket, certified: boolean): void {
    const conn = this.#conns.get(keyOf(socket));
    if (!conn) {
      socket.destroy(); // shed or refused while handshaking
      return;
    }
    if (conn.socket !== socket) {
      this.#bySocket.set(socket, conn);
      socket.once("close", () => conn.socket.destroy());
      conn.socket = socket;
    }
    conn.certified = certified;
    socket.on("data", () => {
      if (conn.phase === "waiting") this.#enter(conn, "header");
    });
    this.#enter(conn, "waiting", this.#limits.headerMs);
  }

  /** A request header arrived; the body must follow within the body timeout. */
  requestStarted(socket: net.Socket): void {
    const conn = this.#bySocket.get(socket);
    if (!conn) return;
    conn.inFlight++;
    this.#enter(conn, "body");
  }

  /** The request's body is in (or there is none): its deadline no longer holds. */
  bodyDone(socket: net.Socket): void {
    const conn = this.#bySocket.get(socket);
    if (conn?.phase === "body") this.#enter(conn, "handling");
  }

  /** Replies the client did not wait for: it closed the connection before the reply was written. */
  canceled = 0;

  /**
   * The handler produced an endless reply (a log stream): the connection
   * stays busy with no deadline; the stream bounds what waits for a slow reader.
   */
  replyStreaming(socket: net.Socket): void {
    const conn = this.#bySocket.get(socket);
    if (conn) this.#enter(conn, "handling");
  }

  /** The handler produced its reply; it must be flushed within the write timeout. */
  replyReady(socket: net.Socket): void {
    const conn = this.#bySocket.get(socket);
    if (conn && conn.phase !== "writing") this.#enter(conn, "writing");
  }

  /** A reply was written (or abandoned): once it is flushed the connection idles, or ends when closing. */
  replyDone(socket: net.Socket): void {
    const conn = this.#bySocket.get(socket);
    if (!conn) return;
    conn.inFlight = Math.max(0, conn.inFlight - 1);
    this.#settle(conn);
  }

  /**
   * Leaves the writing phase only when the socket's own buffer is empty: a
   * runtime may report a reply finished while megabytes still wait for a
   * client that stopped reading, and the write deadline must cover those.
   */
  #settle(conn: Conn): void {
    if (conn.inFlight > 0 || conn.draining) return;
    const socket = conn.socket;
    if (socket.writableLength > 0 && !socket.destroyed) {
      conn.draining = true;
      socket.once("drain", () => {
        conn.draining = false;
        this.#settle(conn);
      });
      return;
    }
    if (this.#closing) this.#drop(conn);
    else this.#enter(conn, "waiting");
  }

  /**
   * Stops taking connections: idle ones end now, busy ones after their reply,
   * and whatever is left after shutdownMs is cut. Resolves when none is left.
   */
  close(shutdownMs = this.#limits.shutdownMs): Promise<void> {
    this.#closing = true;
    for (const conn of [...this.#conns.values()]) if (IDLE.has(conn.phase) || conn.inFlight === 0) this.#drop(conn);
    if (this.#conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        for (const conn of [...this.#conns.values()]) this.#drop(conn);
        resolve();
      }, shutdownMs);
      this.#drained = () => {
        clearTimeout(deadline);
        resolve();
      };
    });
  }

  /**
   * Moves a connection to a phase with the phase's deadline. Timers are
   * re-armed lazily: a request moves a connection through four phases, and
   * a timer per phase would cost more than the rest of the bookkeeping. One
   * timer per connection fires at or before the deadline; if the deadline
   * moved on meanwhile, it is armed again for what is left.
   */
  #enter(conn: Conn, phase: Phase, ms = this.#deadline(phase)): void {
    const now = Date.now();
    conn.phase = phase;
    conn.since = now;
    conn.deadline = ms > 0 ? now + ms : 0;
    if (conn.deadline && (!conn.timer || conn.firesAt > conn.deadline)) this.#arm(conn, now);
  }

  /** Arms the connection's one timer for its deadline. */
  #arm(conn: Conn, now: number): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.firesAt = conn.deadline;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      const at = Date.now();
      if (conn.deadline === 0) return; // a phase without a deadline: the next phase arms again
      if (at < conn.deadline) return this.#arm(conn, at);
      this.cut[conn.phase]++;
      this.#drop(conn);
    }, conn.deadline - now);
    conn.timer.unref?.();
  }

  #deadline(phase: Phase): number {
    const l = this.#limits;
    switch (phase) {
      case "handshake": return l.handshakeMs;
      case "waiting": return l.idleMs;
      case "header": return l.headerMs;
      case "body": return l.bodyMs;
      case "handling": return 0; // the handler is bounded by its own logic (replication fails fast)
      case "writing": return l.writeMs;
    }
  }

  /**
   * The idle connection to shed first: the one idle longest among those
   * without a client certificate, then among those with one. A connection
   * still handshaking counts as without: a new client's handshake in
   * progress is young, so it goes after every older idle connection.
   */
  #sheddable(): Conn | undefined {
    let best: Conn | undefined, bestRank = Infinity;
    for (const conn of this.#conns.values()) {
      if (!IDLE.has(conn.phase)) continue;
      const rank = (conn.certified ? 1e15 : 0) + conn.since;
      if (rank < bestRank) [best, bestRank] = [conn, rank];
    }
    return best;
  }

  #drop(conn: Conn): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.socket.destroy();
    this.#forget(conn);
  }

  #forget(conn: Conn): void {
    if (conn.timer) clearTimeout(conn.timer);
    if (this.#conns.get(conn.key) === conn) this.#conns.delete(conn.key);
    if (this.#closing && this.#conns.size === 0) this.#drained?.();
  }
}

/** A key naming a live TCP connection to this listener. */
function keyOf(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

