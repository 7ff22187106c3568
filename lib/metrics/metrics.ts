/**
 * A node's Prometheus metrics, made with prom-client: what the request path
 * counts as it goes (HTTP and node RPC traffic, commands by id and outcome),
 * and what is read when Prometheus scrapes (cluster, state counts, runtime,
 * audit and logs, through `sources`). Two registries: kms's own names for
 * /v1/health/metrics, and KES's names for /v1/metrics (which serves both).
 * Labels never carry a name from the state (keys, enclaves, identities):
 * only route families, command names and ids, outcomes and status codes.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SeriesMetric } from "./series.ts";
import { type RuntimeSampler, runtimeMetrics } from "./runtime.ts";

/** What the cluster looks like from this node, at scrape time. */
export interface ClusterFigures {
  readonly role: string;
  readonly nodeId: number;
  /** -1 when there is none. */
  readonly leaderId: number;
  readonly commit: number;
  readonly applied: number;
  readonly members: number;
  /** Members the leader hears from and does not: known on the leader only. */
  readonly up?: number;
  readonly down?: number;
  /** Seconds since this node last heard from a leader (0 on the leader, -1 if never). */
  readonly heartbeatAgeSeconds: number;
  readonly writesInFlight: number;
}

/** Counts of what the state holds (never names). */
export interface StateCounts {
  readonly enclaves: number;
  readonly keys: number;
  readonly identities: number;
  readonly policies: number;
}

/** Figures read at scrape time; each is optional (the edge has no cluster or state). */
export interface MetricSources {
  cluster?: () => ClusterFigures | undefined;
  state?: () => StateCounts | undefined;
  /** Open client connections. */
  connections?: () => number;
  /** Connections cut by each deadline, shed at the cap, and replies the client did not wait for. */
  cuts?: () => Readonly<Record<string, number>>;
  /** Audit records seen, and the trail's counters. */
  audit?: () => { records: number; trail?: { records: number; bytes: number; flushes: number; lost: number; flushSeconds: number } };
  /** Log records by level, and open log/audit streams with what they dropped. */
  logs?: () => { counts: Readonly<Record<string, number>>; streams: number; dropped: number };
  /** The key store behind an edge server. */
  keystore?: () => { latencyMs: number; unreachable: boolean };
}

/** One answered request as the metrics see it. */
export interface Observation {
  readonly api: string;
  /** The RPC operation, for api "rpc". */
  readonly op?: string;
  readonly status: number;
  readonly seconds: number;
  readonly requestBytes: number;
  /** Undefined for streamed replies. */
  readonly responseBytes?: number;
  /** Operations by command, with the command's id ("" when it has none). */
  readonly commands?: ReadonlyMap<string, { readonly id: string; readonly n: number }>;
}

const DURATION = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
/** KES's own response-time buckets. */
const KES_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0, 10.0];

/** The outcome label of a reply status. */
export function outcomeOf(status: number): string {
  if (status < 300) return "ok";
  switch (status) {
    case 400: case 413: return "invalid";
    case 403: return "denied";
    case 404: return "not_found";
    case 409: return "conflict";
    case 503: return "unavailable";
    case 504: return "unknown";
    default: return status < 500 ? "invalid" : "error";
  }
}

/** Commands whose 400 means the cryptography refused (a ciphertext that does not open, most often). */
const CRYPTO = new Set(["KEY:DECRYPT", "KEY:ENCRYPT", "KEY:GENERATE", "KEY:MAC", "KEY:DERIVE"]);

/** The metrics of one node (server or edge). */
export class Metrics {
  readonly kms = new Registry();
  readonly kes = new Registry();
  readonly sources: MetricSources;
  readonly #runtime: RuntimeSampler;
  readonly #children = new Map<string, unknown>();
  /** The request path's metrics, as plain series (series.ts): no label hashing per request. */
  readonly #http: {
    requests: SeriesMetric;
    inFlight: SeriesMetric;
    duration: SeriesMetric;
    requestSize: SeriesMetric;
    responseSize: SeriesMetric;
  };
  readonly #rpc: {
    requests: Counter<"op" | "code">;
    inFlight: Gauge;
    duration: Histogram<"op">;
    requestSize: Histogram<"op">;
    responseSize: Histogram<"op">;
  };
  readonly #commands: SeriesMetric;
  readonly #cryptoErrors: Counter<"command">;
  readonly #writes: Histogram<"outcome">;
  readonly #kes: { success: Counter; error: Counter; failure: Counter; active: Gauge; time: Histogram };

  constructor(info: { version: string; startedAt: number }, sources: MetricSources = {}) {
    this.sources = sources;
    const r = [this.kms];
    this.#http = {
      requests: new SeriesMetric("kms_http_requests_total", "HTTP requests answered, by route family (native, kes, health, debug, other) and status code.", "counter", r),
      inFlight: new SeriesMetric("kms_http_requests_in_flight", "HTTP requests being handled, by route family.", "gauge", r),
      duration: new SeriesMetric("kms_http_request_duration_seconds", "Time from a request's arrival to its reply, by route family.", "histogram", r, DURATION),
      requestSize: new SeriesMetric("kms_http_request_size_bytes", "Request body sizes, by route family.", "histogram", r, SIZE),
      responseSize: new SeriesMetric("kms_http_response_size_bytes", "Reply body sizes (streams excluded), by route family.", "histogram", r, SIZE),
    };
    this.#rpc = {
      requests: new Counter({ name: "kms_rpc_requests_total", help: "Node-to-node calls answered, by operation and status code.", labelNames: ["op", "code"], registers: r }),
      inFlight: new Gauge({ name: "kms_rpc_requests_in_flight", help: "Node-to-node calls being handled.", registers: r }),
      duration: new Histogram({ name: "kms_rpc_request_duration_seconds", help: "Time to answer a node-to-node call, by operation.", labelNames: ["op"], buckets: DURATION, registers: r }),
      requestSize: new Histogram({ name: "kms_rpc_request_size_bytes", help: "Node-to-node call sizes, by operation.", labelNames: ["op"], buckets: SIZE, registers: r }),
      responseSize: new Histogram({ name: "kms_rpc_response_size_bytes", help: "Node-to-node reply sizes, by operation.", labelNames: ["op"], buckets: SIZE, registers: r }),
    };
    this.#commands = new SeriesMetric(
      "kms_commands_total",
      "Operations run, by API, command name and id, and outcome (ok, invalid, denied, not_found, conflict, unavailable, unknown, error); every frame of a pipelined request counts.",
      "counter", r,
    );
    this.#cryptoErrors = new Counter({ name: "kms_crypto_errors_total", help: "Cryptographic operations refused (e.g. a ciphertext that does not decrypt), by command.", labelNames: ["command"], registers: r });
    this.#writes = new Histogram({ name: "kms_cluster_write_duration_seconds", help: "Time for a write to be replicated to every node and applied, by outcome.", labelNames: ["outcome"], buckets: DURATION, registers: r });
    const k = [this.kes];
    this.#kes = {
      success: new Counter({ name: "kes_http_request_success", help: "Number of requests that have been served successfully.", registers: k }),
      error: new Counter({ name: "kes_http_request_error", help: "Number of request that failed due to some error. (HTTP 4xx status code)", registers: k }),
      failure: new Counter({ name: "kes_http_request_failure", help: "Number of request that failed due to some internal failure. (HTTP 5xx status code)", registers: k }),
      active: new Gauge({ name: "kes_http_request_active", help: "Number of active requests that are not finished, yet.", registers: k }),
      time: new Histogram({ name: "kes_http_response_time", help: "Histogram of request response times spawning from 10ms to 10s.", buckets: KES_BUCKETS, registers: k }),
    };
    const logs = () => this.sources.logs?.();
    const audit = () => this.sources.audit?.();
    new Counter({ name: "kes_log_error_events", help: "Number of error log events written to the error log targets.", registers: k, collect() {
      const c = logs()?.counts;
      this.reset();
      if (c) this.inc((c.WARN ?? 0) + (c.ERROR ?? 0));
    } });
    new Counter({ name: "kes_log_audit_events", help: "Number of audit log events written to the audit log targets.", registers: k, collect() {
      this.reset();
      this.inc(audit()?.records ?? 0);
    } });
    new Gauge({ name: "kes_system_up_time", help: "The time the server has been up and running in seconds.", registers: k, collect() {
      this.set(Math.floor((Date.now() - info.startedAt) / 10) / 100);
    } });
    this.#runtime = runtimeMetrics(this.kms, info, () => this.sources.connections?.() ?? 0);
    this.#scraped(r);
  }

  /** Counts an answered request. */
  observe(o: Observation): void {
    if (o.api === "rpc") {
      const op = o.op ?? "";
      this.#child(this.#rpc.requests, `${op}|${o.status}`, { op, code: String(o.status) }).inc();
      this.#rpc.duration.observe({ op }, o.seconds);
      this.#rpc.requestSize.observe({ op }, o.requestBytes);
      if (o.responseBytes !== undefined) this.#rpc.responseSize.observe({ op }, o.responseBytes);
      return;
    }
    const http = this.#http;
    http.requests.series(`${o.api}|${o.status}`, () => ({ api: o.api, code: String(o.status) })).inc();
    const byApi = () => ({ api: o.api });
    http.duration.series(o.api, byApi).observe(o.seconds);
    http.requestSize.series(o.api, byApi).observe(o.requestBytes);
    if (o.responseBytes !== undefined) http.responseSize.series(o.api, byApi).observe(o.responseBytes);
    if (o.commands) {
      const outcome = outcomeOf(o.status);
      for (const [command, { id, n }] of o.commands) {
        this.#commands.series(`${o.api}|${command}|${outcome}`, () => ({ api: o.api, command, id, outcome })).inc(n);
        if (o.status === 400 && CRYPTO.has(command)) this.#child(this.#cryptoErrors, `crypto|${command}`, { command }).inc(n);
      }
    }
    if (o.api === "kes") {
      if (o.status < 300) this.#kes.success.inc();
      else if (o.status >= 500) this.#kes.failure.inc();
      else if (o.status >= 400) this.#kes.error.inc();
      this.#kes.time.observe(o.seconds);
    }
  }

  /** Requests of `api` (or node RPCs) started (+n) or ended (-n): ±1 per request, a serving thread's sum at once. */
  inFlight(api: string, delta: number): void {
    if (api === "rpc") this.#rpc.inFlight.inc(delta);
    else this.#http.inFlight.series(api, () => ({ api })).inc(delta);
    if (api === "kes") this.#kes.active.inc(delta);
  }

  /** Counts a replicated write that took `seconds`. */
  write(seconds: number, ok: boolean): void {
    this.#writes.observe({ outcome: ok ? "ok" : "failed" }, seconds);
  }

  /** The Prometheus text of /v1/health/metrics (kms's names). */
  text(): Promise<string> {
    return this.kms.metrics();
  }

  /** The Prometheus text of /v1/metrics: KES's names, then kms's. */
  async kesText(): Promise<string> {
    return (await this.kes.metrics()) + "\n" + (await this.kms.metrics());
  }

  /** Stops the runtime sampler. */
  close(): void {
    this.#runtime.stop();
  }

  /**
   * The labelled child of a metric, cached: the request path pays one map
   * lookup instead of prom-client's label validation and hashing per call.
   */
  #child<M extends Counter<L> | Gauge<L> | Histogram<L>, L extends string>(metric: M, key: string, labels: Record<L, string>): ReturnType<M["labels"]> {
    const full = `${(metric as unknown as { name: string }).name}|${key}`;
    let child = this.#children.get(full) as ReturnType<M["labels"]> | undefined;
    if (!child) {
      child = metric.labels(labels) as ReturnType<M["labels"]>;
      this.#children.set(full, child);
    }
    return child;
  }

  /** Metrics read from `sources` at scrape time. */
  #scraped(r: Registry[]): void {
    const src = this.sources;
    if (src.cluster) this.#clusterMetrics(r);
    if (src.state) {
      new Gauge({ name: "kms_state_objects", help: "Objects held in the state, by kind (counts only).", labelNames: ["kind"], registers: r, collect() {
        const s = src.state?.();
        this.reset();
        if (!s) return;
        for (const kind of ["enclaves", "keys", "identities", "policies"] as const) this.set({ kind }, s[kind]);
      } });
    }
    const counter = (name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]> | undefined) =>
      new Counter({ name, help, labelNames, registers: r, collect() {
        this.reset();
        for (const [labels, v] of read() ?? []) {
          if (Object.keys(labels).length) this.inc(labels, v);
          else this.inc(v);
        }
      } });
    const gauge = (name: string, help: string, read: () => number | undefined) => sampled(r, name, help, read);
    counter("kms_http_connections_cut_total", "Client connections cut at a deadline (by phase: handshake, header, body, writing…), shed at the connection cap, or refused.", ["reason"],
      () => Object.entries(src.cuts?.() ?? {}).filter(([k]) => k !== "canceled").map(([reason, n]) => [{ reason }, n]));
    counter("kms_http_requests_canceled_total", "Replies the client did not wait for (it closed the connection first).", [],
      () => [[{}, src.cuts?.()?.canceled ?? 0]]);
    counter("kms_audit_records_total", "Audit records made (one per request).", [], () => [[{}, src.audit?.()?.records ?? 0]]);
    const trail = [
      ["records", "kms_audit_trail_records_total", "Records written to the audit trail on disk (markers included)."],
      ["bytes", "kms_audit_trail_bytes_total", "Bytes written to the audit trail."],
      ["flushes", "kms_audit_trail_flushes_total", "Group writes (write and fsync) of the audit trail."],
      ["flushSeconds", "kms_audit_trail_flush_seconds_total", "Time spent writing and syncing the audit trail."],
      ["lost", "kms_audit_trail_lost_total", "Audit records dropped because the disk did not keep up (the trail records how many)."],
    ] as const;
    for (const [field, name, help] of trail) {
      counter(name, help, [], () => {
        const t = src.audit?.()?.trail;
        return t ? [[{}, t[field]]] : undefined;
      });
    }
    counter("kms_log_records_total", "Log records written, by level.", ["level"],
      () => Object.entries(src.logs?.()?.counts ?? {}).map(([level, n]) => [{ level: level.toLowerCase() }, n]));
    gauge("kms_log_streams", "Open log and audit streams.", () => src.logs?.()?.streams);
    counter("kms_log_stream_dropped_total", "Records not sent to a stream whose reader fell behind.", [], () => [[{}, src.logs?.()?.dropped ?? 0]]);
    if (src.keystore) {
      gauge("kms_keystore_latency_seconds", "Latency of the key store's last probe (edge).", () => (src.keystore?.().latencyMs ?? 0) / 1000);
      gauge("kms_keystore_unreachable", "1 while the key store is unreachable (edge).", () => (src.keystore?.().unreachable ? 1 : 0));
    }
  }

  /** The cluster as this node sees it. */
  #clusterMetrics(r: Registry[]): void {
    const cluster = () => this.sources.cluster?.();
    const gauge = (name: string, help: string, read: () => number | undefined) => sampled(r, name, help, read);
    new Gauge({ name: "kms_cluster_role", help: "1 for this node's current role (leader, follower, candidate), 0 for the others.", labelNames: ["role"], registers: r, collect() {
      const c = cluster();
      this.reset();
      if (!c) return;
      for (const role of ["leader", "follower", "candidate"]) this.set({ role }, c.role === role ? 1 : 0);
    } });
    gauge("kms_cluster_node_id", "This node's id in its cluster.", () => cluster()?.nodeId);
    gauge("kms_cluster_leader_id", "The id of the node this node takes as leader (-1: none).", () => cluster()?.leaderId);
    gauge("kms_cluster_commit_index", "Highest log index this node knows is committed.", () => cluster()?.commit);
    gauge("kms_cluster_applied_index", "Highest log index applied to this node's state.", () => cluster()?.applied);
    gauge("kms_cluster_size", "Members of the cluster.", () => cluster()?.members);
    new Gauge({ name: "kms_cluster_members", help: "Members the leader hears from (up) and does not (down); reported by the leader only.", labelNames: ["state"], registers: r, collect() {
      const c = cluster();
      this.reset();
      if (c?.up === undefined || c.down === undefined) return;
      this.set({ state: "up" }, c.up);
      this.set({ state: "down" }, c.down);
    } });
    gauge("kms_cluster_last_heartbeat_age_seconds", "Seconds since this node last heard from its leader (0 on the leader, -1 if never).", () => cluster()?.heartbeatAgeSeconds);
    gauge("kms_cluster_writes_in_flight", "Writes this node is waiting on (proposed here, or forwarded to the leader).", () => cluster()?.writesInFlight);

  }
}

/** A gauge set from `read` at every scrape (left unset when it returns undefined). */
function sampled(r: Registry[], name: string, help: string, read: () => number | undefined): Gauge {
  return new Gauge({ name, help, registers: r, collect() {
    const v = read();
    if (v !== undefined) this.set(v);
  } });
}
