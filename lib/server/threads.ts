/**
 * Serving threads (docs/performance.md "Fourth changes: all cores"): the
 * main thread keeps replication, the store and the peers; each serving
 * thread (serving-worker.ts) listens on the same port and holds a read
 * replica. This is the main thread's side: it starts the threads, feeds
 * them every applied batch in commit order (restores post the whole state),
 * publishes what their read barrier needs in shared memory, answers the
 * requests they hand over, takes their metrics and audit records, and lets
 * a write be acknowledged only once every thread has applied it.
 */
import type { Hono } from "hono";
import type { Entry } from "../cluster/types.ts";
import type { NodeOps } from "../api/ops.ts";
import { log } from "../log/logger.ts";
import { type ConnectionLimits, DEFAULT_LIMITS } from "../net/connections.ts";
import type { Env } from "../net/env.ts";
import type { KmsNode } from "../node/node.ts";
import type { Command } from "../state/commands.ts";
import { Errors } from "../state/errors.ts";
import { encodeSnapshot } from "../state/records.ts";
import type { State } from "../state/state.ts";
import { ProxyServer } from "./thread-proxy.ts";
import { Waiters } from "./waiters.ts";
import { type FromThread, SharedFlags, type ThreadTls, type ToThread } from "./thread-messages.ts";

/** How long a write waits for every thread to apply it before the node is taken for broken. */
const VISIBLE_MS = 5_000;
/** How long a thread may take to start listening. */
const START_MS = 10_000;
/** Published again this often, besides after each batch and before each replication send (a backstop for readiness). */
const PUBLISH_MS = 100;

/** Why this runtime cannot run serving threads, or undefined when it can. */
export function threadsUnavailable(): string | undefined {
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return "Deno's node:tls has no SO_REUSEPORT for worker listeners";
  if (typeof Worker === "undefined") return "this runtime has no Worker";
  return undefined;
}

/**
 * The serving thread's module: beside this file, or in the compiled binary
 * the entry point scripts/compile.ts adds, named from the repository's root.
 */
function workerModule(): string {
  return import.meta.url.includes("/$bunfs/") ? "./lib/server/serving-worker.ts" : new URL("./serving-worker.ts", import.meta.url).href;
}

/** How the main thread's serving threads start. */
export interface ThreadsOptions {
  /** Serving threads besides the main thread's listener. */
  readonly count: number;
  readonly node: KmsNode;
  /** The main thread's app: it answers what a thread hands over. */
  readonly app: Hono<Env>;
  readonly ops?: NodeOps;
  readonly hostname: string;
  readonly port: number;
  readonly limits?: Partial<ConnectionLimits>;
  readonly tls: ThreadTls;
  /** Called when a thread fails: the node must stop (no half-serving node). */
  readonly onFatal: (err: unknown) => void;
}

interface Thread {
  readonly worker: Worker;
  applied: number;
  /** Its listener's connections, as last reported. */
  open: number;
  closed?: () => void;
}

/** The main thread's side of the serving threads (see the module comment). */
export class ServingThreads {
  readonly #opts: ThreadsOptions;
  readonly #flags = new SharedFlags();
  readonly #threads: Thread[] = [];
  readonly #proxy: ProxyServer;
  readonly #waiters = new Waiters();
  #stopping = false;
  #failed = false;
  /** Set once every thread listens: before that a failure fails the start (startServer undoes what it made). */
  #started = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(opts: ThreadsOptions) {
    this.#opts = opts;
    this.#proxy = new ProxyServer(opts.app);
  }

  /** Starts `opts.count` threads from the node's state as it is now; resolves once all listen. */
  static async start(opts: ThreadsOptions): Promise<ServingThreads> {
    const t = new ServingThreads(opts);
    t.publish();
    try {
      await Promise.all(Array.from({ length: opts.count }, () => t.#spawn()));
    } catch (err) {
      await t.close(0);
      throw err;
    }
    t.#started = true;
    t.#timer = setInterval(() => t.publish(), PUBLISH_MS);
    t.#timer.unref?.();
    return t;
  }

  #spawn(): Promise<void> {
    const { node } = this.#opts;
    const worker = new Worker(workerModule());
    const thread: Thread = { worker, applied: node.state.applied, open: 0 };
    this.#threads.push(thread);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("a serving thread did not start listening in time")), START_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(why));
        this.#fail(new Error(why));
      };
      worker.addEventListener("error", (e) => fail(`a serving thread failed: ${(e as ErrorEvent).message ?? "unknown error"}`));
      worker.addEventListener("close", () => {
        if (!this.#stopping) fail("a serving thread stopped");
      });
      worker.addEventListener("message", (e: MessageEvent<FromThread>) => {
        const m = e.data;
        if (m.t === "listening") {
          clearTimeout(timer);
          return resolve();
        }
        this.#take(thread, m);
      });
      const snapshot = encodeSnapshot(node.state);
      this.#post(thread, {
        t: "init", id: this.#threads.length, flags: this.#flags.buffer, hostname: this.#opts.hostname, port: this.#opts.port, limits: this.#opts.limits, tls: this.#opts.tls,
        info: { version: node.info.version, host: node.info.host, startedAt: node.info.startedAt, adminIdentity: node.info.adminIdentity },
        snapshot, applied: node.state.applied,
      }, [snapshot.buffer as ArrayBuffer]);
    });
  }

  #take(thread: Thread, m: FromThread): void {
    if (this.#proxy.take(m, (r, transfer) => this.#post(thread, r, transfer))) return;
    switch (m.t) {
      case "applied":
        thread.applied = m.index;
        this.#waiters.wake();
        return;
      case "observed": {
        const { metrics, audit } = this.#opts.ops ?? {};
        for (const [api, n] of m.inFlight) if (n !== 0) metrics?.inFlight(api, n);
        for (const o of m.metrics) metrics?.observe(o);
        for (const r of m.audit) audit?.record(r);
        return;
      }
      case "connections":
        thread.open = m.open;
        return;
      case "log":
        return log.log(m.record.level, m.record.msg, m.record.fields, m.record.req);
      case "closed":
        return thread.closed?.();
    }
  }

  #post(thread: Thread, m: ToThread, transfer: Transferable[] = []): void {
    thread.worker.postMessage(m, transfer);
  }

  #fail(err: Error): void {
    if (this.#failed || this.#stopping || !this.#started) return;
    this.#failed = true;
    log.error(`${err.message}: the node stops`);
    this.#waiters.wake();
    this.#opts.onFatal(err);
  }

  /**
   * Publishes, for the threads' read barrier, the last entry the node holds
   * (committed or not), whether it serves reads and whether it knows its
   * cluster. Called before anything that could make an entry acknowledged
   * elsewhere (a replication send) and before every batch is posted.
   */
  publish(): void {
    const node = this.#opts.node;
    let held = node.state.applied;
    let pending: readonly Entry<Command>[] = [];
    try {
      pending = node.pending();
    } catch {
      // not replicating yet: nothing is held beyond the state
    }
    if (pending.length) held = Math.max(held, pending[pending.length - 1].index);
    this.#flags.publish(held, node.readyForReads(), node.cluster !== "");
  }

  /** Feeds a batch the node just applied to every thread, in commit order. */
  applied(entries: readonly Entry<Command>[]): void {
    this.publish();
    for (const t of this.#threads) this.#post(t, { t: "entries", entries });
  }

  /** The node's state was replaced whole: every thread gets it. */
  replaced(state: State): void {
    this.publish();
    // Encoded once; each thread gets its own copy to take over (a transfer detaches the buffer it moves).
    const encoded = encodeSnapshot(state);
    this.#threads.forEach((t, i) => {
      const snapshot = i === this.#threads.length - 1 ? encoded : encoded.slice();
      this.#post(t, { t: "state", snapshot, applied: state.applied }, [snapshot.buffer as ArrayBuffer]);
    });
  }

  /** Connections the threads' listeners hold (as last reported, every CONNECTIONS_MS). */
  connections(): number {
    return this.#threads.reduce((sum, t) => sum + t.open, 0);
  }

  /** New certificates (and the admin identity they give) for every thread's listener. */
  useKeys(keys: { tls?: { key: string; cert: string }; sni?: ThreadTls["sni"]; adminIdentity: string }): void {
    for (const t of this.#threads) this.#post(t, { t: "keys", ...keys });
  }

  /** Resolves once every thread has applied `index`; a thread that cannot within VISIBLE_MS stops the node. */
  async visible(index: number): Promise<void> {
    const broken = () => this.#failed ? Errors.outcomeUnknown("a serving thread failed: whether every thread shows the write is not known") : undefined;
    if (await this.#waiters.until(() => this.#threads.every((t) => t.applied >= index), VISIBLE_MS, broken)) return;
    this.#fail(new Error(`a serving thread did not apply entry ${index} in time`));
    throw Errors.outcomeUnknown("the write was applied, but not every serving thread shows it yet");
  }

  /** Stops every thread's listener (busy connections get until `deadlineMs`), then the threads. */
  async close(deadlineMs?: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    const bound = (deadlineMs ?? { ...DEFAULT_LIMITS, ...this.#opts.limits }.shutdownMs) + 2_000;
    await Promise.all(this.#threads.map((t) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, bound);
      t.closed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#post(t, { t: "close", deadlineMs });
    })));
    this.#proxy.closeAll();
    for (const t of this.#threads) t.worker.terminate();
  }
}
