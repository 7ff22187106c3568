/**
 * Real multi-node kms clusters on 127.0.0.1 for end-to-end tests.
 *
 * Each node is a real `kms server` process with a fixed port (picked up front)
 * and its own data directory; all share one HSM key (so one admin API key).
 * In front of each node stands a fault-injecting proxy (tests/helpers/proxy.ts)
 * whose address is the node's `--advertise` address: every connection a peer
 * opens to the node passes through it. `cut(i)` severs node i from its peers in
 * both directions: its own proxy refuses connections, and the other proxies
 * refuse connections opened by node i's process. Clients of the tests talk to
 * the nodes directly, so a cut node still serves (or refuses) clients.
 *
 * Control-plane calls (status, health, state hashes) use a fresh connection
 * each, so a killed node never leaves a stale pooled connection behind.
 */
import { createHash } from "node:crypto";
import { it } from "node:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { KmsClient } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { adminApiKeyOf } from "../../lib/server/admin-key.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { rawCall, type RawCall, rawRequest } from "./e2e.ts";
import { type KmsServer, type RunResult, runKms, startServer } from "./kms.ts";
import { type CutMode, portHolders, startProxy, type TcpProxy } from "./proxy.ts";

// ---------------------------------------------------------------- types

/** ServerStatusResponse as decoded (the fields the harness uses). */
export interface NodeStatus {
  readonly host: string;
  readonly role: string;
  readonly commit: number;
  readonly node_id: number;
  readonly leader_id: number;
  readonly nodes?: Record<string, string>;
  readonly [field: string]: unknown;
}

/** ClusterStatusResponse as decoded: node id → status / host. */
export interface ClusterStatus {
  readonly nodes_up: Record<string, NodeStatus>;
  readonly nodes_down: Record<string, string>;
}

/** One node of a test cluster. */
export interface ClusterNode {
  readonly index: number;
  /** Port the server listens on (fixed across restarts). */
  readonly port: number;
  /** 127.0.0.1:port: where clients connect. */
  readonly address: string;
  /** The proxy's address: what the node advertises and peers dial. */
  readonly advertise: string;
  readonly proxy: TcpProxy;
  readonly dir: string;
  /** The current process, if started. */
  server?: KmsServer;
  /** PEM of the CA the node's certificate is from: DIR/ca.crt, read at each use (a join or a restore changes it). */
  readonly ca: string;
}

/** Options of startCluster. */
export interface ClusterOptions {
  /** Number of nodes to start. */
  readonly size: number;
  /**
   * Join every node into node 0's cluster after start (default true). With
   * false every node stays its own single-node cluster.
   */
  readonly join?: boolean;
  /** With join: how many nodes (0..members-1) to join (default: all); the rest stay fresh. */
  readonly members?: number;
  /** Pass `--advertise PROXY` to each server (default true). */
  readonly advertise?: boolean;
  readonly hsmKey?: string;
  /** Per-node HSM keys (overrides hsmKey for those indices). */
  readonly hsmKeys?: Readonly<Record<number, string>>;
  /** The compiled binary to run instead of the sources (default: $KMS_BINARY). */
  readonly binary?: string;
  /** Extra server arguments for every node. */
  readonly extraArgs?: readonly string[];
  /** Extra environment of every node's process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Deadline of each server start (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** An entry of the cluster's fault timeline, for diagnostics. */
export interface TimelineEntry {
  readonly at: number;
  readonly what: string;
}

/** The observable state of a node, canonical, and its hash. */
export interface StateSnapshot {
  readonly hash: string;
  readonly state: unknown;
}

// ---------------------------------------------------------------- helpers

/**
 * N distinct ports that were free a moment ago (bound together, read, closed),
 * drawn below Linux's ephemeral range (32768–60999): nodes re-bind their port
 * after every restart, and a port from that range may meanwhile be the local
 * end of some outgoing connection.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let tries = 0; servers.length < n; tries++) {
      if (tries > 1_000) throw new Error(`no ${n} free ports below the ephemeral range`);
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      const s = net.createServer();
      const bound = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(true));
      });
      if (bound) servers.push(s);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * Polls cond until it returns true, failing after timeoutMs. cond returns true
 * when satisfied, or a string saying why not (shown when the deadline passes).
 * A throw counts as "not yet" with the error as the reason.
 */
export async function until(cond: () => Promise<true | string> | true | string, what: string, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason = "not checked";
  for (;;) {
    try {
      const r = await cond();
      if (r === true) return;
      reason = r;
    } catch (err) {
      reason = `${(err as Error).name}: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${reason}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** JSON with sorted object keys, byte arrays as hex and bigints as decimal. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(normalize(v));
}

function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString("hex")}`;
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, normalize((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The first differences between two canonical states, as paths (for failure messages). */
export function stateDiff(a: unknown, b: unknown, prefix = "", out: string[] = [], max = 20): string[] {
  if (out.length >= max) return out;
  const na = normalize(a), nb = normalize(b);
  if (JSON.stringify(na) === JSON.stringify(nb)) return out;
  if (na && nb && typeof na === "object" && typeof nb === "object") {
    const keys = [...new Set([...Object.keys(na), ...Object.keys(nb)])].sort();
    for (const k of keys) stateDiff((na as Record<string, unknown>)[k], (nb as Record<string, unknown>)[k], `${prefix}/${k}`, out, max);
    return out;
  }
  out.push(`${prefix || "/"}: ${JSON.stringify(na)} ≠ ${JSON.stringify(nb)}`);
  return out;
}

const MAC_MESSAGE = new TextEncoder().encode("kms test cluster: state hash");

// ---------------------------------------------------------------- the cluster

/** Starts a cluster (see ClusterOptions). Call close() when done (also on failure). */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const c = new Cluster(opts, await freePorts(opts.size));
  try {
    await c.init();
    if (opts.join ?? true) {
      for (let i = 1; i < (opts.members ?? opts.size); i++) await c.join(i);
      await c.waitConverged();
    }
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

/** A running test cluster. */
export class Cluster {
  readonly nodes: ClusterNode[] = [];
  readonly hsmKey: string;
  /** The admin API key of node 0's cluster (derived from the HSM key and the cluster id; see apiKeyOf). */
  get apiKey(): string {
    return this.apiKeyOf(0);
  }
  readonly root: string;
  readonly timeline: TimelineEntry[] = [];
  /** Indices of the nodes that are supposed to be members of node 0's cluster. */
  readonly members = new Set<number>();
  readonly #opts: ClusterOptions;
  readonly #ports: number[];
  readonly #clients: KmsClient[] = [];
  /** Everything each node printed, over all its incarnations. */
  readonly #logs: string[] = [];
  readonly #cut = new Map<number, CutMode>();
  #closed = false;

  constructor(opts: ClusterOptions, ports: number[]) {
    this.#opts = opts;
    this.#ports = ports;
    this.hsmKey = opts.hsmKey ?? SoftHsm.generate();
    this.root = mkdtempSync(path.join(os.tmpdir(), "kms-cluster-"));
  }

  /** Starts the proxies and the servers (all at once). */
  async init(): Promise<void> {
    const t0 = performance.now();
    for (let i = 0; i < this.#opts.size; i++) {
      const port = this.#ports[i];
      const proxy = await startProxy({ target: port, origins: () => this.#origins() });
      const dir = path.join(this.root, `node${i}`);
      mkdirSync(this.root, { recursive: true });
      this.nodes.push({
        index: i, port, address: `127.0.0.1:${port}`, advertise: proxy.address, proxy, dir,
        get ca() {
          return existsSync(path.join(dir, CA_FILE)) ? readFileSync(path.join(dir, CA_FILE), "utf8") : "";
        },
      });
      this.#logs.push("");
    }
    await Promise.all(this.nodes.map((n) => this.#start(n.index)));
    this.members.add(0);
    this.#note(`started ${this.#opts.size} nodes in ${(performance.now() - t0).toFixed(0)} ms: ${this.nodes.map((n) => `${n.index}=${n.address} (advertise ${n.advertise}, pid ${n.server!.process.pid})`).join(", ")}`);
  }

  /** pid → "node-i" of every running node: how the proxies attribute connections. */
  #origins(): Map<number, string> {
    const m = new Map<number, string>();
    for (const n of this.nodes) {
      const p = n.server?.process;
      if (p?.pid && p.exitCode === null && p.signalCode === null) m.set(p.pid, `node-${n.index}`);
    }
    return m;
  }

  #note(what: string): void {
    this.timeline.push({ at: performance.now(), what });
    this.#opts.log?.(`[cluster ${(performance.now() / 1000).toFixed(2)}s] ${what}`);
  }

  /** The address peers know node i by: its proxy (or its listen address when started without --advertise). */
  peerAddress(i: number): string {
    return (this.#opts.advertise ?? true) ? this.nodes[i].advertise : this.nodes[i].address;
  }

  /** The HSM key node i runs with. */
  hsmKeyOf(i: number): string {
    return this.#hsmKeys.get(i) ?? this.#opts.hsmKeys?.[i] ?? this.hsmKey;
  }

  /** Makes node i run with another HSM key from its next start (an HSM key rotation). */
  setHsmKey(i: number, hsmKey: string): void {
    this.#hsmKeys.set(i, hsmKey);
  }
  readonly #hsmKeys = new Map<number, string>();

  /** The admin API key of node i: of the cluster it belongs to now, unsealed from its directory with its HSM key. */
  apiKeyOf(i: number): string {
    return adminApiKeyOf(this.nodes[i].dir, SoftHsm.parse(this.hsmKeyOf(i)));
  }

  async #start(i: number): Promise<void> {
    const n = this.nodes[i];
    const args = [...(this.#opts.advertise ?? true ? ["--advertise", n.advertise] : []), ...(this.#opts.extraArgs ?? [])];
    const server = await startServer({
      dir: n.dir,
      addr: n.address,
      hsmKey: this.hsmKeyOf(i),
      binary: this.#opts.binary,
      extraArgs: args,
      env: this.#opts.env ? { ...this.#opts.env } : undefined,
      timeoutMs: this.#opts.startTimeoutMs,
    }).catch((err) => {
      // A port taken while the node was down: say by whom (another process, or a socket left behind).
      const holders = /already in use/.test((err as Error).message) ? portHolders(n.port) : [];
      const why = `${(err as Error).message}${holders.length ? `\nport ${n.port} now: ${holders.join("; ")}` : ""}`;
      this.#logs[i] += `\n--- failed start ---\n${why}\n`;
      throw new Error(`node ${i}: ${why}`);
    });
    n.server = server;
    this.#logs[i] += `\n--- start (pid ${server.process.pid}) ---\n`;
    const log = this.#logs;
    const capture = (d: Buffer) => (log[i] += d);
    server.process.stdout?.on("data", capture);
    server.process.stderr?.on("data", capture);
    log[i] += server.output();
  }

  /** Whether node i's process is running. */
  alive(i: number): boolean {
    const p = this.nodes[i].server?.process;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Indices of running nodes. */
  aliveNodes(): number[] {
    return this.nodes.filter((n) => this.alive(n.index)).map((n) => n.index);
  }

  /** Everything node i printed, over all its incarnations (last maxChars). */
  logs(i: number, maxChars = 20_000): string {
    // The banner prints the admin API key: never let it reach test output.
    return this.#logs[i].slice(-maxChars).replace(/\b(k[12]):[A-Za-z0-9_-]{20,}/g, "$1:<redacted>");
  }

  /** A report of the timeline and every node's recent output, for failure messages. */
  report(maxCharsPerNode = 4_000): string {
    const t0 = this.timeline[0]?.at ?? 0;
    return [
      "timeline:",
      ...this.timeline.map((e) => `  +${((e.at - t0) / 1000).toFixed(2)}s [t=${e.at.toFixed(1)}] ${e.what}`),
      ...this.nodes.map((n) => `--- node ${n.index} (${n.address}, advertise ${n.advertise}) ---\n${this.logs(n.index, maxCharsPerNode)}`),
    ].join("\n");
  }

  // ------------------------------------------------------------ clients

  /** A client of node i (or of several nodes) as the admin; closed by close(). */
  client(i: number | readonly number[], opts: { timeoutMs?: number; apiKey?: string } = {}): KmsClient {
    const idx = typeof i === "number" ? [i] : i;
    const c = new KmsClient({
      servers: idx.map((j) => this.nodes[j].address),
      apiKey: opts.apiKey ?? this.apiKeyOf(idx[0]),
      ca: idx.map((j) => this.nodes[j].ca).join("\n"),
      timeoutMs: opts.timeoutMs,
    });
    this.#clients.push(c);
    return c;
  }

  /** One native call to node i on a fresh connection (throws KmsClientError on HTTP errors). */
  call(i: number, enclave: string, c: RawCall & { response?: string }, apiKey = this.apiKeyOf(i)): Promise<Record<string, unknown>> {
    const n = this.nodes[i];
    return rawCall({ port: n.port, ca: n.ca, apiKey }, enclave, c);
  }

  /** The file trusting every node's certificate (rewritten on each call). */
  caFile(): string {
    const f = path.join(this.root, "cluster-ca.pem");
    writeFileSync(f, this.nodes.map((n) => n.ca).join("\n"));
    return f;
  }

  /** Environment for CLI runs against these nodes (default: node 0). */
  env(nodes: number | readonly number[] = 0): Record<string, string> {
    const idx = typeof nodes === "number" ? [nodes] : nodes;
    return { MINIO_KMS_SERVER: idx.map((i) => this.nodes[i].address).join(","), MINIO_KMS_API_KEY: this.apiKeyOf(idx[0]), KMS_CA: this.caFile() };
  }

  /** Runs `kms ARGS…` against node(s) with the cluster's binary. */
  cli(args: string[], nodes: number | readonly number[] = 0, timeoutMs = 30_000): Promise<RunResult> {
    return runKms(args, this.env(nodes), { binary: this.#opts.binary, timeoutMs });
  }

  // ------------------------------------------------------------ status

  /** CLUSTER:STATUS as node i sees it. */
  async status(i: number): Promise<ClusterStatus> {
    const r = await this.call(i, "", { id: 3, request: "ClusterStatusRequest", response: "ClusterStatusResponse", message: {} });
    return { nodes_up: (r.nodes_up ?? {}) as Record<string, NodeStatus>, nodes_down: (r.nodes_down ?? {}) as Record<string, string> };
  }

  /** Node i's own entry in a status: the one with its advertised (or listen) address. */
  selfOf(i: number, s: ClusterStatus): [string, NodeStatus] | undefined {
    const n = this.nodes[i];
    return Object.entries(s.nodes_up).find(([, v]) => v.host === n.advertise || v.host === n.address);
  }

  /** The cluster node id of node i, from its own status. */
  async idOf(i: number): Promise<number> {
    const self = this.selfOf(i, await this.status(i));
    if (!self) throw new Error(`node ${i} does not list itself (${this.peerAddress(i)})`);
    return Number(self[0]);
  }

  /** The index of the node whose advertised address is host. */
  indexOfHost(host: string): number | undefined {
    return this.nodes.find((n) => n.advertise === host || n.address === host)?.index;
  }

  /** GET /v1/health/ready[?write] on node i: the HTTP status (0 when unreachable). */
  async ready(i: number, write = false): Promise<number> {
    const n = this.nodes[i];
    try {
      const r = await rawRequest({ port: n.port, ca: n.ca, apiKey: this.apiKeyOf(i) }, { path: write ? "/v1/health/ready?write" : "/v1/health/ready", timeoutMs: 5_000 });
      return r.status;
    } catch {
      return 0;
    }
  }

  /**
   * Whether the given nodes (default: every member) agree: each is running,
   * lists exactly the members (by advertised address) all up, names the same
   * leader (which says it is the leader), and (unless sameCommit is false,
   * e.g. while clients keep writing) reports the same commit for itself.
   * Returns true or why not.
   */
  async converged(nodes: readonly number[] = [...this.members], sameCommit = true): Promise<true | string> {
    const expected = [...this.members].map((i) => this.peerAddress(i)).sort();
    let leader: number | undefined;
    let commit: number | undefined;
    const seen: string[] = [];
    for (const i of nodes) {
      if (!this.alive(i)) return `node ${i} is not running`;
      const s = await this.status(i);
      const down = Object.values(s.nodes_down);
      if (down.length) return `node ${i} sees nodes down: ${down.join(", ")}`;
      const hosts = Object.values(s.nodes_up).map((v) => v.host).sort();
      if (hosts.join() !== expected.join()) return `node ${i} lists ${hosts.join(", ")}, expected ${expected.join(", ")}`;
      const self = this.selfOf(i, s);
      if (!self) return `node ${i} does not list itself`;
      const [, me] = self;
      if (me.leader_id < 0) return `node ${i} knows no leader`;
      const l = s.nodes_up[String(me.leader_id)];
      if (!l || l.role !== "Leader") return `node ${i}'s leader ${me.leader_id} is ${l ? l.role : "not up"}`;
      if (leader !== undefined && leader !== me.leader_id) return `nodes disagree on the leader: ${leader} vs ${me.leader_id}`;
      leader = me.leader_id;
      if (sameCommit && commit !== undefined && commit !== Number(me.commit)) return `commits differ: ${seen.join(", ")}, node ${i} ${me.commit}`;
      commit = Number(me.commit);
      seen.push(`node ${i} ${me.commit}`);
    }
    return true;
  }

  /**
   * Waits until converged() (see there), then until every given node is ready
   * for writes. With sameCommit false (clients still writing), commits may differ.
   */
  async waitConverged(nodes: readonly number[] = [...this.members], timeoutMs = 30_000, sameCommit = true): Promise<void> {
    const t0 = performance.now();
    const what = sameCommit ? "converge" : "recover";
    await until(() => this.converged(nodes, sameCommit), `nodes ${nodes.join(",")} to ${what}`, timeoutMs);
    await until(async () => {
      for (const i of nodes) {
        const s = await this.ready(i, true);
        if (s !== 200) return `node ${i}: /v1/health/ready?write → ${s}`;
      }
      // Writability may come after the status settles: check agreement again.
      return this.converged(nodes, sameCommit);
    }, `nodes ${nodes.join(",")} to be writable`, timeoutMs);
    this.#note(`${sameCommit ? "converged" : "recovered"}: nodes ${nodes.join(",")} in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  /** waitConverged without requiring equal commits: every member up, one agreed leader, writable everywhere. */
  waitRecovered(nodes: readonly number[] = [...this.members], timeoutMs = 30_000): Promise<void> {
    return this.waitConverged(nodes, timeoutMs, false);
  }

  /** The index of the leader that every given live node agrees on, or undefined. */
  async leader(nodes: readonly number[] = [...this.members].filter((i) => this.alive(i))): Promise<number | undefined> {
    let found: number | undefined;
    for (const i of nodes) {
      let s: ClusterStatus;
      try {
        s = await this.status(i);
      } catch {
        return undefined;
      }
      const self = this.selfOf(i, s);
      if (!self || self[1].leader_id < 0) return undefined;
      const host = s.nodes_up[String(self[1].leader_id)]?.host ?? s.nodes_down[String(self[1].leader_id)];
      const idx = host === undefined ? undefined : this.indexOfHost(host);
      if (idx === undefined || (found !== undefined && found !== idx)) return undefined;
      found = idx;
    }
    return found;
  }

  // ------------------------------------------------------------ membership

  /** CLUSTER:ADDNODE of node i (by its advertised address) through node `via` (default 0). */
  async join(i: number, via = 0): Promise<void> {
    const t0 = performance.now();
    await this.call(via, "", { id: 1, request: "AddClusterNodeRequest", message: { host: this.peerAddress(i) } });
    this.members.add(i);
    this.#note(`joined node ${i} via node ${via} in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  /** CLUSTER:REMOVENODE of node i through node `via`. */
  async remove(i: number, via: number, deleteClusterOnHost = false): Promise<void> {
    const t0 = performance.now();
    await this.call(via, "", { id: 2, request: "RemoveClusterNodeRequest", message: { host: this.peerAddress(i), delete_cluster_on_host: deleteClusterOnHost } });
    this.members.delete(i);
    this.#note(`removed node ${i} via node ${via} in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  /** CLUSTER:EDIT on node i: drop these cluster node ids from its membership (repair, no quorum). */
  async edit(i: number, removeIds: readonly number[]): Promise<void> {
    await this.call(i, "", { id: 4, request: "EditClusterRequest", message: { host: "", remove: removeIds } });
    this.#note(`edited node ${i}: removed ids ${removeIds.join(",")}`);
  }

  // ------------------------------------------------------------ faults

  /** kill -9 node i and wait for its exit. */
  async kill9(i: number): Promise<void> {
    const s = this.nodes[i].server;
    if (!s || !this.alive(i)) return;
    await s.stop("SIGKILL");
    this.#note(`kill -9 node ${i}`);
  }

  /** Stops node i with a signal (default SIGTERM) and waits for its exit; resolves to the exit code. */
  async stop(i: number, signal: NodeJS.Signals = "SIGTERM"): Promise<number> {
    const s = this.nodes[i].server;
    if (!s || !this.alive(i)) return s?.process.exitCode ?? -1;
    const code = await s.stop(signal);
    this.#note(`stopped node ${i} (${signal}): exit ${code}`);
    return code;
  }

  /** SIGSTOP node i: it freezes holding everything (a paused leader wakes up still believing it leads). */
  pause(i: number): void {
    this.nodes[i].server?.process.kill("SIGSTOP");
    this.#note(`paused node ${i} (SIGSTOP)`);
  }

  /** SIGCONT node i after pause(i). */
  resume(i: number): void {
    this.nodes[i].server?.process.kill("SIGCONT");
    this.#note(`resumed node ${i} (SIGCONT)`);
  }

  /** Starts node i again: same data directory, port, advertised address and HSM key. */
  async restart(i: number): Promise<void> {
    if (this.alive(i)) throw new Error(`node ${i} is running`);
    const t0 = performance.now();
    await this.#start(i);
    this.#note(`restarted node ${i} in ${(performance.now() - t0).toFixed(0)} ms (pid ${this.nodes[i].server!.process.pid})`);
  }

  /**
   * Cuts node i off from its peers, both directions: its proxy refuses (or
   * blackholes) every connection to it, and the other proxies those that its
   * process opens. Clients still reach it directly.
   */
  cut(i: number, mode: CutMode = "reset"): void {
    this.#cut.set(i, mode);
    this.nodes[i].proxy.cut(mode);
    for (const n of this.nodes) if (n.index !== i) n.proxy.block(`node-${i}`, mode);
    this.#note(`cut node ${i} (${mode})`);
  }

  /** Undoes cut(i). */
  heal(i: number): void {
    this.#cut.delete(i);
    this.nodes[i].proxy.heal();
    for (const n of this.nodes) if (n.index !== i) n.proxy.unblock(`node-${i}`);
    this.#note(`healed node ${i}`);
  }

  /** Which nodes are cut. */
  cutNodes(): number[] {
    return [...this.#cut.keys()];
  }

  /** Heals every cut and restarts every node that is not running. */
  async healAll(): Promise<void> {
    for (const i of this.cutNodes()) this.heal(i);
    for (const n of this.nodes) if (!this.alive(n.index) && n.server) await this.restart(n.index);
  }

  // ------------------------------------------------------------ state

  /**
   * The whole observable state of node i through the admin API: every enclave,
   * every key with every live version (type, created_at, created_by and a MAC
   * of a fixed message, which fingerprints the key material), every identity
   * and every policy with its rules. Retries 503s (e.g. a node catching up)
   * until the deadline.
   */
  async stateHash(i: number, timeoutMs = 20_000): Promise<StateSnapshot> {
    let snap: StateSnapshot | undefined;
    await until(async () => {
      snap = await this.#snapshot(i);
      return true as const;
    }, `the state of node ${i}`, timeoutMs, 100);
    return snap!;
  }

  /** The state hashes of the given nodes (default: every member); throws with a diff when they differ. */
  async assertSameState(nodes: readonly number[] = [...this.members]): Promise<string> {
    const snaps = await Promise.all(nodes.map((i) => this.stateHash(i)));
    for (let k = 1; k < snaps.length; k++) {
      if (snaps[k].hash !== snaps[0].hash) {
        throw new Error(`node ${nodes[k]}'s state differs from node ${nodes[0]}'s (${snaps[k].hash.slice(0, 12)} vs ${snaps[0].hash.slice(0, 12)}):\n  ` +
          stateDiff(snaps[0].state, snaps[k].state).join("\n  "));
      }
    }
    return snaps[0].hash;
  }

  async #snapshot(i: number): Promise<StateSnapshot> {
    const call = (enclave: string, c: RawCall & { response?: string }) => this.call(i, enclave, c);
    const list = async (enclave: string, id: number, response: string, field: string) => {
      const items: Record<string, unknown>[] = [];
      let continueAt = "";
      for (let page = 0; page < 10_000; page++) {
        const r = await call(enclave, { id, request: "ListRequest", response, message: { prefix: "", continue_at: continueAt, limit: 0 } });
        items.push(...((r[field] ?? []) as Record<string, unknown>[]));
        continueAt = String(r.continue_at ?? "");
        if (!continueAt) return items;
      }
      throw new Error(`node ${i}: listing ${field} of ${enclave || "the cluster"} did not end`);
    };
    const enclaves = await list("", 104, "ListEnclavesResponse", "enclaves");
    const state: Record<string, unknown> = {};
    for (const e of enclaves) {
      const name = String(e.name);
      const keys: Record<string, unknown> = {};
      for (const k of await list(name, 208, "ListKeysResponse", "keys")) {
        const versions: Record<string, unknown>[] = [];
        for (let v = 1; v <= Number(k.version); v++) {
          let st: Record<string, unknown>;
          try {
            st = await call(name, { id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name: k.name, version: v } });
          } catch (err) {
            if ((err as { status?: number }).status === 404) continue; // a deleted version
            throw err;
          }
          const mac = await call(name, { id: 210, request: "MACRequest", response: "MACResponse", message: { name: k.name, version: v, message: MAC_MESSAGE } });
          versions.push({ ...st, mac: mac.mac });
        }
        keys[String(k.name)] = versions;
      }
      const identities = await list(name, 404, "ListIdentitiesResponse", "identities");
      const policies: Record<string, unknown> = {};
      for (const p of await list(name, 306, "ListPoliciesResponse", "policies")) {
        policies[String(p.name)] = await call(name, { id: 304, request: "PolicyRequest", response: "PolicyResponse", message: { name: p.name } });
      }
      state[name] = { enclave: e, keys, identities: Object.fromEntries(identities.map((x) => [String(x.identity), x])), policies };
    }
    const json = canonicalJson(state);
    return { hash: createHash("sha256").update(json).digest("hex"), state: JSON.parse(json) };
  }

  // ------------------------------------------------------------ cleanup

  /** Kills every node, closes every proxy and client, removes the data directories. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#clients) c.close();
    await Promise.all(this.nodes.map(async (n) => {
      if (n.server && this.alive(n.index)) await n.server.stop("SIGKILL");
    }));
    await Promise.all(this.nodes.map((n) => n.proxy.close()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * it() steps of a cluster test that remember whether one failed, so the
 * file's after() can print the cluster's report; `check` runs after each step.
 */
export function reportingSteps(check?: () => void) {
  let failed = false;
  const step = (name: string, fn: () => Promise<void>) =>
    it(name, { timeout: 120_000 }, async () => {
      try {
        await fn();
        check?.();
      } catch (err) {
        failed = true;
        throw err;
      }
    });
  return { step, failed: () => failed };
}
