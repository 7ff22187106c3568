/**
 * The KES JSON API (reference/kes-api.md) over a KesBackend: the same routes,
 * JSON shapes, error messages and statuses as KES, so MinIO's KES client and
 * the kes CLI work unchanged. Used by the stateful server (one enclave) and by
 * `kms edge` (an external key store). This file assembles the app and holds
 * the key routes; server.ts and policy.ts hold the others.
 */
import { type Context as HonoContext, type Handler, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { log } from "../../log/logger.ts";
import { encodeBase64 } from "../../state/base64.ts";
import { KmsError } from "../../state/errors.ts";
import type { Env } from "../env.ts";
import type { NodeOps } from "../ops.ts";
import { noteEnclave, noteOps } from "../request-note.ts";
import { isClientError } from "../errors.ts";
import type { KesAccess, KesBackend, KesOp, KesRequest } from "./backend.ts";
import { kesError, KesMessages, toKesError } from "./errors.ts";
import { kesHexOf } from "./identity.ts";
import { policyRoutes } from "./policy.ts";
import { DecryptBody, EncryptBody, GenerateBody, HmacBody, ImportBody, KesName, KesPrefix } from "./schemas.ts";
import { logRoutes } from "./log.ts";
import { serverRoutes } from "./server.ts";
import { KES_COMMANDS } from "./stateful.ts";
import { KES_LIST_PAGE, KES_MAX_BODY, routeOf } from "./table.ts";

// deno-lint-ignore no-explicit-any
export type Context<E extends Env = Env> = HonoContext<E, any, any>;

/** What the routes need besides the backend. */
export interface KesRoutesOptions {
  /** The backend of the current request; a function so a config reload can swap it. */
  readonly backend: () => KesBackend;
  readonly version: string;
  readonly startedAt: number;
  /** The enclave requests run in, for audit records ("" on the edge). */
  readonly enclave?: string;
  /** Metrics, audit and log streams (absent: /v1/metrics and the log streams answer 501). */
  readonly ops?: NodeOps;
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

/** The KES API as a hono app. */
export function kesRoutes(opts: KesRoutesOptions): Hono<Env> {
  const app = new Hono<Env>();

  /** Waits for the backend (see KesBackend.barrier); a Response when it may not answer. */
  const barrier = async (c: Context, req?: KesRequest): Promise<Response | undefined> => {
    try {
      await opts.backend().barrier?.(c.env?.identity, req);
    } catch (err) {
      return kesError(c, err instanceof KmsError ? err.status : 503, err instanceof Error ? err.message : "unavailable");
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
      if (e.status === 500) log.error(`KES ${op} failed: ${err instanceof Error ? err.name : "error"}`);
      return kesError(c, e.status, e.message);
    },
    listing(path, op, page) {
      kit.on(path, async (c, pattern) => {
        noteEnclave(c.req.raw, kit.opts.enclave ?? "");
        noteOps(c.req.raw, [{ name: KES_COMMANDS[op] ?? op, id: 0, object: "" }]);
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

  serverRoutes(kit);
  logRoutes(kit);
  keyRoutes(kit);
  policyRoutes(kit);
  return app;
}

/** /v1/key/*: create, import, describe, delete, generate, encrypt, decrypt, hmac and list. */
function keyRoutes(kit: KesKit): void {
  const { opts } = kit;
  const limit = bodyLimit({
    maxSize: KES_MAX_BODY,
    onError: (c) => kesError(c as Context, 413, `request body too large: at most ${KES_MAX_BODY} bytes`),
  });

  /** A route on one key: validate the name, authorise, run; errors become KES errors. */
  const keyRoute = (path: string, op: KesOp, run: (c: Context, name: string) => Promise<Response>, ...mw: MiddlewareHandler<Env>[]) =>
    kit.on(path, async (c, name) => {
      noteEnclave(c.req.raw, opts.enclave ?? "");
      noteOps(c.req.raw, [{ name: KES_COMMANDS[op] ?? op, id: 0, object: name }]);
      // Strangers learn nothing, not even whether a name is valid.
      const refused = await kit.known(c);
      if (refused) return refused;
      const n = v.safeParse(KesName, name);
      if (!n.success) return kesError(c, 400, n.issues[0].message);
      const access = await kit.gate(c, op, name, path + name);
      if (access instanceof Response) return access;
      try {
        return await run(c, name);
      } catch (err) {
        return kit.fail(c, err, op);
      }
    }, ...mw);

  const empty = (c: Context) => c.body(null, 200);
  const b64 = encodeBase64;

  keyRoute("/v1/key/create/", "create", async (c, name) => {
    await opts.backend().create(name, c.env.identity!);
    return empty(c);
  });

  keyRoute("/v1/key/import/", "import", async (c, name) => {
    const b = await kit.body(c, ImportBody);
    if (b instanceof Response) return b;
    try {
      await opts.backend().import(name, b.key, b.type, c.env.identity!);
    } finally {
      b.key.fill(0);
    }
    return empty(c);
  }, limit);

  keyRoute("/v1/key/describe/", "describe", async (c, name) => {
    const k = await opts.backend().describe(name);
    return c.json({ name: k.name, algorithm: k.algorithm, created_at: new Date(k.createdAt).toISOString(), created_by: kesHexOf(k.createdBy) });
  });

  keyRoute("/v1/key/delete/", "delete", async (c, name) => {
    await opts.backend().delete(name);
    return empty(c);
  });

  keyRoute("/v1/key/generate/", "generate", async (c, name) => {
    const b = await kit.body(c, GenerateBody);
    if (b instanceof Response) return b;
    const dek = await opts.backend().generate(name, b.context);
    const reply = c.json({ plaintext: b64(dek.plaintext), ciphertext: b64(dek.ciphertext) });
    dek.plaintext.fill(0);
    return reply;
  }, limit);

  keyRoute("/v1/key/encrypt/", "encrypt", async (c, name) => {
    const b = await kit.body(c, EncryptBody);
    if (b instanceof Response) return b;
    return c.json({ ciphertext: b64(await opts.backend().encrypt(name, b.plaintext, b.context)) });
  }, limit);

  keyRoute("/v1/key/decrypt/", "decrypt", async (c, name) => {
    const b = await kit.body(c, DecryptBody);
    if (b instanceof Response) return b;
    const plaintext = await opts.backend().decrypt(name, b.ciphertext, b.context);
    const reply = c.json({ plaintext: b64(plaintext) });
    plaintext.fill(0);
    return reply;
  }, limit);

  keyRoute("/v1/key/hmac/", "hmac", async (c, name) => {
    const b = await kit.body(c, HmacBody);
    if (b instanceof Response) return b;
    return c.json({ hmac: b64(await opts.backend().hmac(name, b.message)) });
  }, limit);

  kit.listing("/v1/key/list/", "list", (prefix, continueAt, size, visible) => opts.backend().list(prefix, continueAt, size, visible));
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
