/**
 * The KES JSON API (reference/kes-api.md) over a KesBackend: the same routes,
 * JSON shapes, error messages and statuses as KES, so MinIO's KES client and
 * the kes CLI work unchanged. Used by the stateful server (one enclave) and by
 * `kms edge` (an external key store).
 */
import os from "node:os";
import { type Context as HonoContext, type Handler, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { encodeBase64 } from "../../state/base64.ts";
import { KmsError } from "../../state/errors.ts";
import type { Env } from "../env.ts";
import type { KesAccess, KesBackend, KesOp, KesRequest } from "./backend.ts";
import { kesHexOf } from "./identity.ts";
import { DecryptBody, EncryptBody, GenerateBody, HmacBody, ImportBody, KesName, KesPrefix } from "./schemas.ts";

// deno-lint-ignore no-explicit-any
type Context<E extends Env = Env> = HonoContext<E, any, any>;

/** Largest request body KES accepts. */
export const KES_MAX_BODY = 1 << 20;
/** Most names in one page of /v1/key/list. */
export const KES_LIST_PAGE = 1024;

/** KES's canonical error messages. */
export const KesMessages = {
  denied: "not authorized: insufficient permissions",
  keyNotFound: "key does not exist",
  keyExists: "key already exists",
  notAuthentic: "decryption failed: ciphertext is not authentic",
  storeUnreachable: "key store is not reachable",
} as const;

/** What the routes need besides the backend. */
export interface KesRoutesOptions {
  /** The backend of the current request; a function so a config reload can swap it. */
  readonly backend: () => KesBackend;
  readonly version: string;
  readonly startedAt: number;
  /** Called once per request after it is answered (audit log). */
  readonly audit?: (entry: AuditEntry) => void;
}

/** One line of the audit log. */
export interface AuditEntry {
  readonly time: string;
  readonly identity: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

interface Route {
  readonly methods: readonly string[];
  readonly path: string;
  /** Policy path prefix; the name follows it. */
  readonly op?: KesOp;
  readonly maxBody: number;
  readonly timeoutSec: number;
}

// The route table /v1/api reports; handlers are attached below.
const ROUTES: readonly Route[] = [
  { methods: ["GET"], path: "/version", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/ready", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/status", op: "status", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/metrics", op: "metrics", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/api", maxBody: 0, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/create/", op: "create", maxBody: 0, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/import/", op: "import", maxBody: KES_MAX_BODY, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/key/describe/", op: "describe", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/key/list/", op: "list", maxBody: 0, timeoutSec: 15 },
  { methods: ["DELETE"], path: "/v1/key/delete/", op: "delete", maxBody: 0, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/generate/", op: "generate", maxBody: KES_MAX_BODY, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/encrypt/", op: "encrypt", maxBody: KES_MAX_BODY, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/decrypt/", op: "decrypt", maxBody: KES_MAX_BODY, timeoutSec: 15 },
  { methods: ["PUT", "POST"], path: "/v1/key/hmac/", op: "hmac", maxBody: KES_MAX_BODY, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/identity/self/describe", op: "self", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/policy/describe/", op: "policy", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/policy/read/", op: "policy", maxBody: 0, timeoutSec: 15 },
  { methods: ["GET"], path: "/v1/policy/list/", op: "policy", maxBody: 0, timeoutSec: 15 },
];

/** An error in KES's wire form: {"message": …} with the status. */
function kesError(c: Context<Env>, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ message }, status as 400, headers);
}

/** Maps any error to KES's status and message; internal details never leak. */
export function toKesError(err: unknown): { status: number; message: string } {
  if (err instanceof KmsError) {
    if (err.status === 403) return { status: 403, message: KesMessages.denied };
    if (err.message === "key already exists") return { status: 400, message: KesMessages.keyExists };
    if (err.message === "invalid ciphertext") return { status: 400, message: KesMessages.notAuthentic };
    return { status: err.status, message: err.message };
  }
  return { status: 500, message: "internal server error" };
}

class Metrics {
  readonly byStatus = new Map<number, number>();
  count(status: number) {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }
}

/** The KES API as a hono app. */
export function kesRoutes(opts: KesRoutesOptions): Hono<Env> {
  const app = new Hono<Env>();
  const metrics = new Metrics();

  app.use("/v1/*", async (c, next) => {
    const started = performance.now();
    await next();
    const kesPath = c.req.path.startsWith("/v1/key/") || c.req.path.startsWith("/v1/identity/") || c.req.path.startsWith("/v1/policy/") ||
      ["/v1/status", "/v1/metrics", "/v1/api", "/v1/ready"].includes(c.req.path);
    if (!kesPath) return;
    metrics.count(c.res.status);
    opts.audit?.({
      time: new Date().toISOString(),
      identity: c.env?.identity ? kesHexOf(c.env.identity) : "",
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    });
  });

  const limit = bodyLimit({
    maxSize: KES_MAX_BODY,
    onError: (c) => kesError(c as Context<Env>, 413, `request body too large: at most ${KES_MAX_BODY} bytes`),
  });

  /** Waits for the backend (see KesBackend.barrier); a Response when it may not answer. */
  const barrier = async (c: Context<Env>, req?: KesRequest): Promise<Response | undefined> => {
    try {
      await opts.backend().barrier?.(c.env?.identity, req);
    } catch (err) {
      return kesError(c, err instanceof KmsError ? err.status : 503, err instanceof Error ? err.message : "unavailable");
    }
  };

  /** Refuses strangers, who wait only for pending changes to their own records (which could make them known). */
  const known = async (c: Context<Env>): Promise<Response | undefined> => {
    const waited = await barrier(c);
    if (waited) return waited;
    if (!opts.backend().isKnown(c.env?.identity)) return kesError(c, 403, KesMessages.denied);
  };

  /**
   * Authenticates and authorises; returns a Response when denied. Allowed
   * callers then wait for pending changes to what the request reads (a
   * stateful node's read barrier), and only to that; the answer is decided
   * again after the wait.
   */
  const gate = async (c: Context<Env>, op: KesOp, name: string): Promise<KesAccess | Response> => {
    const refused = await known(c);
    if (refused) return refused;
    const req: KesRequest = { method: c.req.method, path: c.req.path, op, name };
    if (!opts.backend().authorize(c.env?.identity, req)) return kesError(c, 403, KesMessages.denied);
    const waited = await barrier(c, req);
    if (waited) return waited;
    const access = opts.backend().authorize(c.env?.identity, req);
    return access ?? kesError(c, 403, KesMessages.denied);
  };

  /** Reads and validates a JSON body; an empty body counts as {}. */
  const body = async <S extends v.GenericSchema>(c: Context<Env>, schema: S): Promise<v.InferOutput<S> | Response> => {
    const raw = await c.req.text();
    let json: unknown = {};
    if (raw.trim() !== "") {
      try {
        json = JSON.parse(raw);
      } catch {
        return kesError(c, 400, "invalid request body: malformed JSON");
      }
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) return kesError(c, 400, "invalid request body: expected a JSON object");
    const r = v.safeParse(schema, json);
    if (!r.success) return kesError(c, 400, issueMessage(r.issues[0]));
    return r.output;
  };

  // Route parameters arrive percent-decoded (hono decodes them once).
  /** A key route: validate the name, authorise, run; errors become KES errors. */
  const keyRoute = (op: KesOp, run: (c: Context<Env>, name: string, access: KesAccess) => Promise<Response>) => async (c: Context<Env>) => {
    const name = c.req.param("name") ?? "";
    // Strangers learn nothing, not even whether a name is valid.
    const refused = await known(c);
    if (refused) return refused;
    const n = v.safeParse(KesName, name);
    if (!n.success) return kesError(c, 400, n.issues[0].message);
    const access = await gate(c, op, name);
    if (access instanceof Response) return access;
    try {
      return await run(c, name, access);
    } catch (err) {
      const e = toKesError(err);
      if (e.status === 500) console.error(`kms: KES ${op} failed: ${err instanceof Error ? err.name + ": " + err.message : "error"}`);
      return kesError(c, e.status, e.message);
    }
  };

  const empty = (c: Context<Env>) => c.body(null, 200);
  const b64 = encodeBase64;
  const methodsOf = (path: string) => ROUTES.find((r) => r.path === path)!.methods;

  /** Registers handler for the route's methods and a 405 with Allow for every other method. */
  const on = (path: string, pattern: string, ...handlers: Array<Handler<Env> | MiddlewareHandler<Env>>) => {
    const methods = methodsOf(path);
    app.on([...methods], pattern, ...(handlers as [Handler<Env>]));
    app.all(pattern, (c) => kesError(c, 405, "method not allowed", { allow: methods.join(", "), accept: methods.join(", ") }));
  };

  on("/v1/ready", "/v1/ready", (c) => (opts.backend().ready() ? c.body(null, 200) : kesError(c, 504, KesMessages.storeUnreachable)));

  on("/v1/status", "/v1/status", async (c) => {
    const access = await gate(c, "status", "");
    if (access instanceof Response) return access;
    const s = opts.backend().storeStatus();
    const mem = process.memoryUsage();
    return c.json({
      version: opts.version,
      os: process.platform,
      arch: process.arch === "x64" ? "amd64" : process.arch,
      uptime: Math.max(0, Date.now() - opts.startedAt) * 1_000_000, // a Go time.Duration: nanoseconds
      num_cpu: os.cpus().length,
      num_cpu_used: os.availableParallelism?.() ?? os.cpus().length,
      mem_heap_used: mem.heapUsed,
      mem_stack_used: 0,
      keystore_latency: s.latencyMs, // milliseconds
      keystore_unreachable: s.unreachable,
    });
  });

  on("/v1/metrics", "/v1/metrics", async (c) => {
    const access = await gate(c, "metrics", "");
    if (access instanceof Response) return access;
    const s = opts.backend().storeStatus();
    const lines = [
      "# HELP kes_http_request_success Number of requests answered with 2xx.",
      "# TYPE kes_http_request_success counter",
      `kes_http_request_success ${sum(metrics, (st) => st < 300)}`,
      "# HELP kes_http_request_error Number of requests answered with 4xx.",
      "# TYPE kes_http_request_error counter",
      `kes_http_request_error ${sum(metrics, (st) => st >= 400 && st < 500)}`,
      "# HELP kes_http_request_failure Number of requests answered with 5xx.",
      "# TYPE kes_http_request_failure counter",
      `kes_http_request_failure ${sum(metrics, (st) => st >= 500)}`,
      "# HELP kes_keystore_latency_ms Latency of the key store's last probe.",
      "# TYPE kes_keystore_latency_ms gauge",
      `kes_keystore_latency_ms ${s.latencyMs}`,
      "# HELP kes_keystore_unreachable Whether the key store is unreachable.",
      "# TYPE kes_keystore_unreachable gauge",
      `kes_keystore_unreachable ${s.unreachable ? 1 : 0}`,
      "# HELP kes_system_up_time Seconds since the server started.",
      "# TYPE kes_system_up_time gauge",
      `kes_system_up_time ${Math.floor((Date.now() - opts.startedAt) / 1000)}`,
      "",
    ];
    return c.body(lines.join("\n"), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  on("/v1/api", "/v1/api", (c) =>
    c.json(ROUTES.flatMap((r) => r.methods.map((m) => ({ method: m, path: r.path, max_body: r.maxBody, timeout: r.timeoutSec })))));

  on("/v1/key/create/", "/v1/key/create/:name", keyRoute("create", async (c, name) => {
    await opts.backend().create(name, c.env.identity!);
    return empty(c);
  }));

  on("/v1/key/import/", "/v1/key/import/:name", limit, keyRoute("import", async (c, name) => {
    const b = await body(c, ImportBody);
    if (b instanceof Response) return b;
    try {
      await opts.backend().import(name, b.key, b.type, c.env.identity!);
    } finally {
      b.key.fill(0);
    }
    return empty(c);
  }));

  on("/v1/key/describe/", "/v1/key/describe/:name", keyRoute("describe", async (c, name) => {
    const k = await opts.backend().describe(name);
    return c.json({ name: k.name, algorithm: k.algorithm, created_at: new Date(k.createdAt).toISOString(), created_by: kesHexOf(k.createdBy) });
  }));

  on("/v1/key/delete/", "/v1/key/delete/:name", keyRoute("delete", async (c, name) => {
    await opts.backend().delete(name);
    return empty(c);
  }));

  on("/v1/key/generate/", "/v1/key/generate/:name", limit, keyRoute("generate", async (c, name) => {
    const b = await body(c, GenerateBody);
    if (b instanceof Response) return b;
    const dek = await opts.backend().generate(name, b.context);
    const reply = c.json({ plaintext: b64(dek.plaintext), ciphertext: b64(dek.ciphertext) });
    dek.plaintext.fill(0);
    return reply;
  }));

  on("/v1/key/encrypt/", "/v1/key/encrypt/:name", limit, keyRoute("encrypt", async (c, name) => {
    const b = await body(c, EncryptBody);
    if (b instanceof Response) return b;
    return c.json({ ciphertext: b64(await opts.backend().encrypt(name, b.plaintext, b.context)) });
  }));

  on("/v1/key/decrypt/", "/v1/key/decrypt/:name", limit, keyRoute("decrypt", async (c, name) => {
    const b = await body(c, DecryptBody);
    if (b instanceof Response) return b;
    const plaintext = await opts.backend().decrypt(name, b.ciphertext, b.context);
    const reply = c.json({ plaintext: b64(plaintext) });
    plaintext.fill(0);
    return reply;
  }));

  on("/v1/key/hmac/", "/v1/key/hmac/:name", limit, keyRoute("hmac", async (c, name) => {
    const b = await body(c, HmacBody);
    if (b instanceof Response) return b;
    return c.json({ hmac: b64(await opts.backend().hmac(name, b.message)) });
  }));

  // /v1/key/list/<prefix>, /v1/key/list/<prefix>*, /v1/key/list/* and /v1/key/list/ (everything).
  const list = async (c: Context<Env>) => {
    const raw = c.req.param("pattern") ?? "";
    const access = await gate(c, "list", "");
    if (access instanceof Response) return access;
    const prefix = raw.endsWith("*") ? raw.slice(0, -1) : raw;
    const p = v.safeParse(KesPrefix, prefix);
    if (!p.success) return kesError(c, 400, p.issues[0].message);
    const continueAt = c.req.query("continue") ?? c.req.query("continue_at") ?? "";
    const limitQ = Number(c.req.query("limit") ?? KES_LIST_PAGE);
    const size = Number.isInteger(limitQ) && limitQ > 0 && limitQ <= KES_LIST_PAGE ? limitQ : KES_LIST_PAGE;
    try {
      const page = await opts.backend().list(prefix, continueAt, size, access.visible);
      return c.json({ names: page.names, continue_at: page.continueAt });
    } catch (err) {
      const e = toKesError(err);
      return kesError(c, e.status, e.message);
    }
  };
  on("/v1/key/list/", "/v1/key/list/:pattern{.*}", list);

  on("/v1/identity/self/describe", "/v1/identity/self/describe", async (c) => {
    if (!c.env?.identity) return kesError(c, 403, KesMessages.denied);
    const access = await gate(c, "self", "");
    if (access instanceof Response) return access;
    const s = opts.backend().self(c.env.identity);
    return c.json({
      identity: s.identity,
      is_admin: s.isAdmin,
      policy_name: s.policyName,
      policy: { allow: s.allow, deny: s.deny },
    });
  });

  const policy = (kind: "describe" | "read" | "list") => async (c: Context<Env>) => {
    const name = c.req.param("name") ?? "";
    const access = await gate(c, "policy", name);
    if (access instanceof Response) return access;
    const policies = opts.backend().policies?.();
    if (!policies) return kesError(c, 501, "not implemented: policies are managed with 'kms' policy commands on this server");
    if (kind === "list") {
      const prefix = name.endsWith("*") ? name.slice(0, -1) : name;
      return c.json({ names: [...policies.keys()].filter((n) => n.startsWith(prefix)).sort(), continue_at: "" });
    }
    const p = policies.get(name);
    if (!p) return kesError(c, 404, "policy does not exist");
    return kind === "read" ? c.json({ allow: p.allow, deny: p.deny }) : c.json({ name, created_at: new Date(opts.startedAt).toISOString(), created_by: "" });
  };
  on("/v1/policy/describe/", "/v1/policy/describe/:name", policy("describe"));
  on("/v1/policy/read/", "/v1/policy/read/:name", policy("read"));
  on("/v1/policy/list/", "/v1/policy/list/:name{.*}", policy("list"));

  // Empty names and names with characters a route parameter cannot hold (e.g. '/').
  const keyOps = new Set(["create", "import", "describe", "delete", "generate", "encrypt", "decrypt", "hmac"]);
  app.all("/v1/key/:op/*", (c, next) => {
    if (!keyOps.has(c.req.param("op"))) return next();
    if (!opts.backend().isKnown(c.env?.identity)) return kesError(c, 403, KesMessages.denied);
    return kesError(c, 400, "invalid key name: use 1 to 80 characters of A-Z a-z 0-9 _ - (not starting or ending with -)");
  });
  return app;
}

/** A validation issue as a KES-style message; a missing field is named. */
function issueMessage(issue: v.BaseIssue<unknown>): string {
  const field = issue.path?.map((p) => String(p.key)).join(".");
  if (issue.input === undefined && field) return `invalid ${field}: missing`;
  return issue.message;
}

function sum(m: Metrics, pred: (status: number) => boolean): number {
  let n = 0;
  for (const [status, count] of m.byStatus) if (pred(status)) n += count;
  return n;
}
