/**
 * What the main thread and its serving threads (threads.ts, serving-worker.ts)
 * tell each other, and the shared memory where the main thread publishes
 * what a serving thread's read barrier needs. Messages stay inside the
 * process: they carry key material of the replicated state, never to a log.
 */
import type { Entry } from "../cluster/types.ts";
import type { AuditEntry } from "../audit/hub.ts";
import type { Observation } from "../metrics/metrics.ts";
import type { ConnectionLimits } from "../net/connections.ts";
import type { Bindings } from "../net/env.ts";
import type { Command } from "../state/commands.ts";
import type { LogRecord } from "../log/logger.ts";

/** A listener's TLS material: the clients' certificate and the SNI ones (nodes, joiners). */
export interface ThreadTls {
  readonly key: string;
  readonly cert: string;
  readonly sni: ReadonlyArray<{ readonly servername: string; readonly key: string; readonly cert: string }>;
}

/** Everything a serving thread starts from. */
export interface ThreadInit {
  readonly t: "init";
  /** The thread's number (the main thread is 0). */
  readonly id: number;
  readonly flags: SharedArrayBuffer;
  readonly hostname: string;
  readonly port: number;
  readonly limits?: Partial<ConnectionLimits>;
  readonly tls: ThreadTls;
  readonly info: { version: string; host: string; startedAt: number; adminIdentity: string };
  /** The state as snapshot bytes (records.ts) and its applied index. */
  readonly snapshot: Uint8Array;
  readonly applied: number;
}

/** A request a serving thread hands to the main thread's app. */
export interface ProxiedRequest {
  readonly t: "request";
  readonly id: number;
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array | null;
  readonly env: Bindings;
}

/** Main thread → serving thread. */
export type ToThread =
  | ThreadInit
  | { t: "entries"; entries: readonly Entry<Command>[] }
  | { t: "state"; snapshot: Uint8Array; applied: number }
  | { t: "keys"; tls?: { key: string; cert: string }; sni?: ThreadTls["sni"]; adminIdentity: string }
  | { t: "response"; id: number; status: number; headers: Array<[string, string]>; body: Uint8Array | null; stream: boolean }
  | { t: "chunk"; id: number; chunk: Uint8Array | null }
  | { t: "close"; deadlineMs?: number };

/** Serving thread → main thread. */
export type FromThread =
  | { t: "listening" }
  | { t: "applied"; index: number }
  | ProxiedRequest
  | { t: "pull"; id: number }
  | { t: "cancel"; id: number }
  | { t: "observed"; inFlight: Array<[string, number]>; metrics: Observation[]; audit: AuditEntry[] }
  /** A record of the thread's logger, written by the main thread's (its format, level and log streams). */
  | { t: "log"; record: LogRecord }
  /** The connections the thread's listener holds now (sent every CONNECTIONS_MS). */
  | { t: "connections"; open: number }
  | { t: "closed" };

/** How often a serving thread reports its open connections. */
export const CONNECTIONS_MS = 250;

/** Slots of the shared flags (a BigInt64Array). */
const HELD = 0, READY = 1, CLUSTERED = 2;

/** The main thread's side of the shared flags: it writes, serving threads read. */
export class SharedFlags {
  readonly buffer: SharedArrayBuffer;
  readonly #a: BigInt64Array;

  constructor(buffer = new SharedArrayBuffer(3 * 8)) {
    this.buffer = buffer;
    this.#a = new BigInt64Array(buffer);
  }

  /** Publishes the last entry the node holds (committed or not), whether it serves reads, and whether it knows its cluster. */
  publish(held: number, ready: boolean, clustered: boolean): void {
    Atomics.store(this.#a, HELD, BigInt(held));
    Atomics.store(this.#a, READY, ready ? 1n : 0n);
    Atomics.store(this.#a, CLUSTERED, clustered ? 1n : 0n);
  }

  /** The last entry the node held when last published: a read starting now waits until it is applied. */
  held(): number {
    return Number(Atomics.load(this.#a, HELD));
  }

  /** Whether the node serves reads (not starting, joining, removed or catching up after a restart). */
  ready(): boolean {
    return Atomics.load(this.#a, READY) === 1n;
  }

  /** Whether the node knows its cluster (until then clients are refused, as the main thread does). */
  clustered(): boolean {
    return Atomics.load(this.#a, CLUSTERED) === 1n;
  }
}
