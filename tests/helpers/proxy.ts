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
  const row = tcpSockets().find((r) => r.local === procAddress(sourcePort) && r.remote === procAddress(destPort));
  const pid = row && ownerOf(row.inode, pids.keys());
  return pid === undefined ? undefined : pids.get(pid);
}

/**
 * Every IPv4 TCP socket bound to `port` on this machine, one line each: its
 * state, its ends and the process holding it (pid and command line), e.g.
 * "LISTEN 127.0.0.1:24268 held by pid 812 (bun main.ts server …)". For saying
 * who took a port that a restarting node could not bind (none when /proc is unavailable).
 */
export function portHolders(port: number): string[] {
  const rows = tcpSockets().filter((r) => r.local.endsWith(`:${hexPort(port)}`));
  const pids = rows.some((r) => r.inode !== "0") ? allPids() : [];
  return rows.map((r) => {
    const pid = r.inode === "0" ? undefined : ownerOf(r.inode, pids);
    const ends = `${readable(r.local)}${r.state === "LISTEN" ? "" : ` -> ${readable(r.remote)}`}`;
    return `${r.state} ${ends} ${pid === undefined ? "held by no process" : `held by pid ${pid} (${commandOf(pid)})`}`;
  });
}

/** A socket of /proc/net/tcp: local and remote ends as written there ("0100007F:1F90"), its state's name and its inode. */
interface TcpSocket {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
  readonly inode: string;
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
  "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
};

/** The IPv4 TCP sockets of this network namespace ([] when /proc is unavailable). */
function tcpSockets(): TcpSocket[] {
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return [];
  }
  return table.split("\n").slice(1).map((line) => line.trim().split(/\s+/)).filter((f) => f.length > 9)
    .map((f) => ({ local: f[1], remote: f[2], state: TCP_STATES[f[3]] ?? f[3], inode: f[9] }));
}

const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

/** 127.0.0.1:port as /proc/net/tcp writes it. */
const procAddress = (port: number) => `0100007F:${hexPort(port)}`;

/** "0100007F:1F90" → "127.0.0.1:8080". */
function readable(end: string): string {
  const [ip, port] = end.split(":");
  const bytes = (ip.match(/../g) ?? []).map((h) => parseInt(h, 16)).reverse();
  return `${bytes.join(".")}:${parseInt(port, 16)}`;
}

/** The process among `pids` that holds the socket with this inode, found through /proc/PID/fd. */
function ownerOf(inode: string, pids: Iterable<number>): number | undefined {
  const needle = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === needle) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** Every process id /proc lists. */
function allPids(): number[] {
  try {
    return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return [];
  }
}

/** A process's command line, shortened. */
function commandOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).map((a) => a.split("/").pop()).join(" ");
    return cmd.length > 120 ? `${cmd.slice(0, 120)}…` : cmd;
  } catch {
    return "exited";
  }
}
