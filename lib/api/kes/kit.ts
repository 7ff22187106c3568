/**
 * The helpers every group of KES routes registers itself with (routes.ts,
 * server.ts, policy.ts): the route table's spellings, authentication and
 * authorisation, the read barrier, JSON bodies, listings and KES's errors.
 */
import { type Context as HonoContext, type Handler, Hono, type MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { Env } from "../../net/env.ts";
import { isClientError } from "../../net/errors.ts";
import type { KesAccess, KesBackend, KesOp, KesRequest } from "./backend.ts";
import { KmsError } from "../../state/errors.ts";
import { kesError, KesMessages, toKesError } from "./errors.ts";
import { KesPrefix } from "./schemas.ts";
import { KES_LIST_PAGE, routeOf } from "./table.ts";

// deno-lint-ignore no-explicit-any
export type Context<E extends Env = Env> = HonoContext<E, any, any>;

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

/** A route handler: the request and its resource (the path after the route's prefix, percent-decoded). */
export type KesHandler = (c: Context, resource: string) => Response | Promise<Response>;

/** The helpers every group of KES routes registers itself with. */
export interface KesKit {
  readonly opts: KesRoutesOptions;
  /** Registers a route of the table (every spelling KES clients send) and 405 for other methods. */
  on(path: string, handler: KesHandler, ...middleware: MiddlewareHandler<Env>[]): void;
  /** Refuses strangers, who wait only for pending changes to their own records (which could make them known). */
  known(c: Context): Promise<Response | undefined>;
  /**
   * Authenticates and authorises a request; a Response when refused. Allowed
   * callers wait for pending changes to what the request reads, and only to that.
   */
  gate(c: Context, op: KesOp, name: string, path: string): Promise<KesAccess | Response>;
  /** Reads and validates a JSON body; a Response when it is malformed. */
  body<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S> | Response>;
  /** Answers an error thrown by the backend in KES's form; client errors go to the app's handler. */
  fail(c: Context, err: unknown, op: string): Response;
  /** Registers a listing route: <path>, <path>/, <path>/*, <path>/<prefix>[*], paged by ?continue_at= and ?limit=. */
  listing(path: string, op: KesOp, page: (prefix: string, continueAt: string, size: number, visible: (name: string) => boolean) => Promise<{ names: string[]; continueAt: string }>): void;
}

/** Counts of answered requests by status, for /v1/metrics. */
export class KesMetrics {
  readonly byStatus = new Map<number, number>();
  count(status: number) {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }
  sum(pred: (status: number) => boolean): number {
    let n = 0;
    for (const [status, count] of this.byStatus) if (pred(status)) n += count;
    return n;
  }
}

/** The kit over `app` for `opts`. */
export function kesKit(app: Hono<Env>, opts: KesRoutesOptions): KesKit {
/** Waits for the backend (see KesBackend.barrier); a Response when it may not answer. */
const barrier = async (c: Context, req?: KesRequest): Promise<Response | undefined> => {
  try {
    await opts.backend().barrier?.(c.env?.identity, req);
  } catch (err) {
    const e = err instanceof KmsError ? toKesError(err) : { status: 503, message: err instanceof Error ? err.message : "unavailable" };
    return kesError(c, e.status, e.message);
  }
};

const kit: KesKit = {
  opts,
  on(path, handler, ...middleware) {
    const route = routeOf(path);
    const patterns = path.endsWith("/") ? [path.slice(0, -1), `${path}:resource{.*}`] : [path, `${path}/`];
    for (const pattern of patterns) {
      const run: Handler<Env> = (c) => handler(c, (c.req.param() as Record<string, string | undefined>).resource ?? "");
      app.on([...route.methods], pattern, ...([...middleware, run] as [Handler<Env>]));
      const allow = route.methods.join(", ");
      app.all(pattern, (c) => kesError(c, 405, "method not allowed", { allow, accept: allow }));
    }
  },
  async known(c) {
    const waited = await barrier(c);
    if (waited) return waited;
    if (!opts.backend().isKnown(c.env?.identity)) return kesError(c, 403, KesMessages.denied);
  },
  async gate(c, op, name, path) {
    // Allowed callers then wait for pending changes to what the request
    // reads (a stateful node's read barrier), and only to that; the answer
    // is decided again after the wait.
    const refused = await kit.known(c);
    if (refused) return refused;
    const req: KesRequest = { method: c.req.method, path, op, name };
    if (!opts.backend().authorize(c.env?.identity, req)) return kesError(c, 403, KesMessages.denied);
    const waited = await barrier(c, req);
    if (waited) return waited;
    return opts.backend().authorize(c.env?.identity, req) ?? kesError(c, 403, KesMessages.denied);
  },
  async body(c, schema) {
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
  },
  fail(c, err, op) {
    if (isClientError(err)) throw err;
    const e = toKesError(err);
    if (e.status === 500) console.error(`kms: KES ${op} failed: ${err instanceof Error ? err.name : "error"}`);
    return kesError(c, e.status, e.message);
  },
  listing(path, op, page) {
    kit.on(path, async (c, pattern) => {
      const access = await kit.gate(c, op, "", path + pattern);
      if (access instanceof Response) return access;
      const p = v.safeParse(KesPrefix, pattern.endsWith("*") ? pattern.slice(0, -1) : pattern);
      if (!p.success) return kesError(c, 400, p.issues[0].message);
      const { continueAt, size } = pageOf(c);
      try {
        const out = await page(p.output, continueAt, size, access.visible);
        return c.json({ names: out.names, continue_at: out.continueAt });
      } catch (err) {
        return kit.fail(c, err, op);
      }
    });
  },
};

  return kit;
}

/** The page a listing asks for: ?continue_at= (or ?continue=) and ?limit= (at most KES_LIST_PAGE). */
function pageOf(c: Context): { continueAt: string; size: number } {
  const continueAt = c.req.query("continue_at") ?? c.req.query("continue") ?? "";
  const limit = Number(c.req.query("limit") ?? KES_LIST_PAGE);
  return { continueAt, size: Number.isInteger(limit) && limit > 0 && limit <= KES_LIST_PAGE ? limit : KES_LIST_PAGE };
}

/** A validation issue as a KES-style message; a missing field is named. */
function issueMessage(issue: v.BaseIssue<unknown>): string {
  const field = issue.path?.map((p) => String(p.key)).join(".");
  if (issue.input === undefined && field) return `invalid ${field}: missing`;
  return issue.message;
}
