/**
 * A fault-injecting TCP forwarding proxy on 127.0.0.1 for cluster tests.
 *
 * One proxy stands in front of each node and is that node's advertised
 * address, so every connection a peer opens to the node passes through it.
 * `cut()` severs the node: existing connections are destroyed (both sockets of
 * each pair) and new ones are refused (reset at once), or, in "blackhole"
 * mode, kept open while every byte is dropped (the peer sees timeouts rather
 * than resets). `heal()` lets connections through again; `close()` stops it.
 *
 * A cut of the proxy in front of node i only stops connections *to* i. Node
 * i's own connections to its peers go through their proxies, so to cut i off
 * completely those proxies must also refuse connections that *come from* i.
 * For that a proxy can attribute each accepted connection to the process that
 * opened it (`origins`: process ids → tags, resolved through /proc on Linux),
 * and `block(tag[, mode])` / `unblock(tag)` cut that origin's connections
 * only (reset or blackhole, as with cut()).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";

/** How a cut behaves. */
export type CutMode = "reset" | "blackhole";

/** Options of startProxy. */
export interface ProxyOptions {
  /** The port on 127.0.0.1 that connections are forwarded to (a function: read at each connection). */
  readonly target: number | (() => number);
  /** Port to listen on (default: one the OS picks). */
  readonly port?: number;
  /**
   * Process id → origin tag of the processes whose connections should be
   * attributed (e.g. a node's server process → "node-2"). Read at each
   * connection. Without it every connection's origin is undefined.
   */
  readonly origins?: () => ReadonlyMap<number, string>;
}

/** One forwarded connection. */
interface Pair {
  readonly client: net.Socket;
  upstream?: net.Socket;
  origin?: string;
  blackholed: boolean;
}

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly address: string;
  /** Stops all traffic through the proxy (see CutMode). Idempotent. */
  cut(mode?: CutMode): void;
  /** Lets traffic through again; connections that were blackholed are destroyed (their streams are broken). */
  heal(): void;
  /** Cuts connections from this origin only (see ProxyOptions.origins) until unblock(). */
  block(origin: string, mode?: CutMode): void;
  unblock(origin: string): void;
  /** Whether the proxy is cut. */
  readonly isCut: boolean;
  /** Open connections (accepted and not yet closed), with their origins. */
  connections(): Array<{ origin?: string; blackholed: boolean }>;
  /** Counters, for tests and diagnostics. */
  readonly stats: { accepted: number; refused: number; destroyed: number; bytes: number };
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to 127.0.0.1:target. */
export async function startProxy(opts: ProxyOptions): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const blocked = new Map<string, CutMode>();
  let mode: CutMode | undefined; // undefined: healed
  let closed = false;
  const stats = { accepted: 0, refused: 0, destroyed: 0, bytes: 0 };
  const targetPort = () => (typeof opts.target === "function" ? opts.target() : opts.target);

  const destroy = (p: Pair) => {
    if (!pairs.delete(p)) return;
    stats.destroyed++;
    p.client.destroy();
    p.upstream?.destroy();
  };
  /** How a pair is cut now: by the whole proxy, or by its origin; reset wins over blackhole. */
  const cutOf = (p: Pair): CutMode | undefined => {
    const byOrigin = p.origin === undefined ? undefined : blocked.get(p.origin);
    if (closed || mode === "reset" || byOrigin === "reset") return "reset";
    return mode ?? byOrigin;
  };
  /** Applies the current cuts to every open pair: resets destroy, blackholes silence, healed blackholed pairs go. */
  const enforce = () => {
    for (const p of [...pairs]) {
      const m = cutOf(p);
      if (m === "reset" || (m === undefined && p.blackholed)) destroy(p);
      else if (m === "blackhole") p.blackholed = true;
    }
  };

  /** Forwards a → b unless the pair is blackholed, with backpressure. */
  const forward = (p: Pair, a: net.Socket, b: net.Socket) => {
    a.on("data", (d: Buffer) => {
      if (p.blackholed || !pairs.has(p)) return;
      stats.bytes += d.length;
      if (!b.write(d)) {
        a.pause();
        b.once("drain", () => a.resume());
      }
    });
    a.on("end", () => {
      if (!p.blackholed) b.end();
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    const p: Pair = { client, blackholed: false };
    pairs.add(p);
    stats.accepted++;
    client.on("error", () => destroy(p));
    client.on("close", () => destroy(p));
    if (opts.origins && client.remotePort !== undefined) {
      p.origin = originOf(client.remotePort, client.localPort!, opts.origins());
    }
    const m = cutOf(p);
    if (m === "reset") {
      stats.refused++;
      destroy(p);
      return;
    }
    if (m === "blackhole") {
      // Accept and swallow: the peer waits for a reply that never comes.
      p.blackholed = true;
      client.on("data", () => {});
      client.resume();
      return;
    }
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort() });
    p.upstream = upstream;
    upstream.on("error", () => destroy(p));
    upstream.on("close", () => destroy(p));
    upstream.once("connect", () => {
      if (!pairs.has(p)) return;
      forward(p, client, upstream);
      forward(p, upstream, client);
      client.resume();
    });
  });
  server.on("error", () => {}); // accept errors (e.g. EMFILE) must not crash the test process

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: opts.port ?? 0, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    address: `127.0.0.1:${port}`,
    get isCut() {
      return mode !== undefined;
    },
    stats,
    cut(m: CutMode = "reset") {
      mode = m;
      enforce();
    },
    heal() {
      mode = undefined;
      enforce();
    },
    block(origin, m: CutMode = "reset") {
      blocked.set(origin, m);
      enforce();
    },
    unblock(origin) {
      blocked.delete(origin);
      enforce();
    },
    connections: () => [...pairs].map((p) => ({ origin: p.origin, blackholed: p.blackholed })),
    async close() {
      closed = true;
      for (const p of [...pairs]) destroy(p);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------- origins

/**
 * The tag of the process (among `pids`) that owns the TCP socket
 * 127.0.0.1:localPort → 127.0.0.1:remotePort, found through /proc/net/tcp
 * (socket inode) and /proc/PID/fd (which process holds that inode). Returns
 * undefined when it is none of them or /proc is unavailable.
 */
export function originOf(sourcePort: number, destPort: number, pids: ReadonlyMap<number, string>): string | undefined {
  if (pids.size === 0) return undefined;
  const inode = socketInode(sourcePort, destPort);
  if (inode === undefined) return undefined;
  const needle = `socket:[${inode}]`;
  for (const [pid, tag] of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === needle) return tag;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** Inode of the socket whose local end is 127.0.0.1:localPort and remote end 127.0.0.1:remotePort. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  const local = `0100007F:${hex(localPort)}`;
  const remote = `0100007F:${hex(remotePort)}`;
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) return f[9];
  }
  return undefined;
}
