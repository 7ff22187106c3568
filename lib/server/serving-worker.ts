/**
 * A serving thread (threads.ts starts it as a Worker): its own TLS listener
 * on the node's port (SO_REUSEPORT: the kernel spreads connections over the
 * threads), a read replica of the state (replica.ts) serving the native
 * protocol's reads and crypto, and every other request handed to the main
 * thread's app (thread-proxy.ts). Its requests' metrics and audit records go
 * to the main thread in batches.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type http from "node:http";
import type { AuditEntry } from "../audit/hub.ts";
import { nativeRawRoute } from "../api/native/route.ts";
import { observedRoute, type ObserveTargets } from "../api/observe.ts";
import { Level, log } from "../log/logger.ts";
import type { Observation } from "../metrics/metrics.ts";
import type { Env } from "../net/env.ts";
import { type Listener, type RawExchange, type RawRequest, type RawRoute, serveTls } from "../net/serve.ts";
import { parseFrames } from "../wire/frames.ts";
import { MAX_FRAMES } from "../api/native/execute.ts";
import { CATCH_UP_MS, LOCAL_COMMANDS, ReplicaNode, replicaState } from "./replica.ts";
import { ServeElsewhere } from "../node/node.ts";
import { MAX_PROXIED_BODY, ProxyClient } from "./thread-proxy.ts";
import { CONNECTIONS_MS, type FromThread, SharedFlags, type ThreadInit, type ToThread } from "./thread-messages.ts";

/** Observations are sent this often, or sooner when this many are waiting. */
const FLUSH_MS = 50, FLUSH_AT = 1_000;

interface WorkerScope {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToThread>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromThread, transfer?: Transferable[]) => scope.postMessage(m, transfer);

const proxy = new ProxyClient(post);
let replica: ReplicaNode | undefined;
let listener: Listener | undefined;
let keys: Extract<ToThread, { t: "keys" }> | undefined;

scope.onmessage = (e) => {
  const m = e.data;
  if (proxy.take(m)) return;
  switch (m.t) {
    case "init":
      return void start(m);
    case "entries":
      replica!.feed(m.entries);
      return post({ t: "applied", index: replica!.state.applied });
    case "state":
      replica!.replace(replicaState(m.snapshot, m.applied));
      return post({ t: "applied", index: replica!.state.applied });
    case "keys":
      keys = m;
      return useKeys();
    case "close":
      return void close(m.deadlineMs);
  }
};

async function start(init: ThreadInit): Promise<void> {
  // This thread's records are written by the main thread's logger (its format, level and log streams).
  log.configure({ level: Level.debug, out: () => {} });
  log.subscribe((record) => post({ t: "log", record }));
  const flags = new SharedFlags(init.flags);
  replica = new ReplicaNode(replicaState(init.snapshot, init.applied), { ...init.info, tickMs: 0, electionTicks: 0 }, flags);
  const local = observedRoute(observer(() => replica!.info.host), nativeRawRoute({ node: replica }, log));
  listener = await serveTls(proxyApp(), {
    key: init.tls.key, cert: init.tls.cert, sni: init.tls.sni, hostname: init.hostname, port: init.port, limits: init.limits, reusePort: true,
    refuseClients: () => !flags.clustered(),
  }, threadRoute(local, replica));
  useKeys();
  log.info(`serving thread ${init.id} listening`, { thread: init.id });
  post({ t: "listening" });
  // For the node's open-connections figure (metrics, /v1/debug/stat).
  setInterval(() => post({ t: "connections", open: listener!.guard.size }), CONNECTIONS_MS);
  // Tests only: a thread that throws must stop the whole node (tests/e2e/threads.test.ts).
  if (process.env.KMS_TEST_THREAD_THROWS === "1") setTimeout(() => { throw new Error("a test made this serving thread throw"); }, 200);
}

/** Puts the latest certificates and admin identity the main thread sent to use. */
function useKeys(): void {
  if (!keys || !listener) return;
  if (keys.tls) listener.setTls(keys.tls);
  for (const s of keys.sni ?? []) listener.setSni(s.servername, s);
  replica!.setAdminIdentity(keys.adminIdentity);
}

async function close(deadlineMs?: number): Promise<void> {
  await listener?.close(deadlineMs);
  // As the main thread does at its stop (start.ts): no key material is left in memory this thread gives back.
  replica?.wipe();
  flush();
  post({ t: "closed" });
}

/** Everything but the native raw route: answered by the main thread's app. */
function proxyApp(): Hono<Env> {
  const app = new Hono<Env>();
  app.use("*", bodyLimit({ maxSize: MAX_PROXIED_BODY, onError: (c) => c.json({ message: "request body too large" }, 413) }));
  app.all("*", async (c) => {
    const raw = c.req.raw;
    const body = raw.body ? new Uint8Array(await raw.arrayBuffer()) : null;
    const url = new URL(raw.url);
    return proxy.fetch(raw.method, url.pathname + url.search, [...raw.headers], body, c.env);
  });
  return app;
}

/**
 * The native raw route: served here when every frame is a LOCAL_COMMANDS
 * read and the replica is current (or catches up within CATCH_UP_MS); else
 * the main thread serves it, with its own barrier and its writes.
 */
function threadRoute(local: RawRoute, node: ReplicaNode): RawRoute {
  return {
    match: local.match,
    maxBody: local.maxBody,
    begin(param, req) {
      let x: RawExchange | undefined;
      const here = () => (x ??= local.begin(param, req));
      return {
        handle: async (read) => {
          const body = await read();
          if (await servesHere(body, node)) {
            try {
              return await here().handle(() => Promise.resolve(body));
            } catch (err) {
              if (!(err instanceof ServeElsewhere)) throw err;
              // The replica fell behind during the request: forget it here (the main thread records it).
              x!.drop?.();
              x = undefined;
            }
          }
          const res = await proxy.fetch(req.method, req.path, headersOf(req), body, { identity: req.peer.identity, certificate: req.peer.certificate, ip: req.ip });
          return { status: res.status, headers: Object.fromEntries(res.headers), body: new Uint8Array(await res.arrayBuffer()) };
        },
        tooLarge: () => here().tooLarge(),
        failed: (err) => here().failed(err),
        // Only a request served here is recorded here: the main thread's app records the others.
        end: (reply) => (x ? x.end(reply) : reply),
      };
    },
  };
}

/** Whether this thread answers a native request itself (see threadRoute). */
async function servesHere(body: Uint8Array, node: ReplicaNode): Promise<boolean> {
  try {
    for (const f of parseFrames(body, MAX_FRAMES)) if (!LOCAL_COMMANDS.has(f.id)) return false;
  } catch {
    return true; // answered 400 here, as the main thread would
  }
  if (node.current()) return true;
  return node.readyForReads() && await node.caughtUpNow(CATCH_UP_MS);
}

function headersOf(req: RawRequest): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(req.headers as http.IncomingHttpHeaders)) {
    if (v !== undefined) out.push([k, Array.isArray(v) ? v.join(", ") : v]);
  }
  return out;
}

const batch = { inFlight: new Map<string, number>(), metrics: [] as Observation[], audit: [] as AuditEntry[] };
let flushing: ReturnType<typeof setTimeout> | undefined;

/** Where this thread's requests are counted and audited: batches for the main thread's metrics and audit trail. */
function observer(node: () => string): ObserveTargets {
  return {
    metrics: {
      inFlight: (api, delta) => void batch.inFlight.set(api, (batch.inFlight.get(api) ?? 0) + delta),
      observe: (o) => queue(() => batch.metrics.push(o)),
    },
    audit: { record: (r) => queue(() => batch.audit.push(r)) },
    node,
  };
}

function queue(add: () => void): void {
  add();
  if (batch.metrics.length + batch.audit.length >= FLUSH_AT) return flush();
  flushing ??= setTimeout(flush, FLUSH_MS);
}

function flush(): void {
  if (flushing) clearTimeout(flushing);
  flushing = undefined;
  if (!batch.metrics.length && !batch.audit.length && !batch.inFlight.size) return;
  post({ t: "observed", inFlight: [...batch.inFlight], metrics: batch.metrics, audit: batch.audit });
  batch.inFlight.clear();
  batch.metrics = [];
  batch.audit = [];
}
