/**
 * The console: a page served at /console, and the JSON API it calls under
 * /console/api. A browser logs in by signing a challenge (login.ts) and
 * then holds only a session cookie; every command it sends runs through the
 * native protocol's own pipeline (native/execute.ts) as the session's
 * identity, so it is authorised exactly as the same command from the CLI.
 */
import { createHash } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import * as v from "valibot";
import { Obj } from "../../node/pending.ts";
import type { KmsNode } from "../../node/node.ts";
import { decodeBase64 } from "../../encoding/base64.ts";
import { Errors, KmsError } from "../../state/errors.ts";
import { equal } from "../../crypto/constant-time.ts";
import type { Env } from "../../net/env.ts";
import { isClientError } from "../../net/errors.ts";
import { ConsoleErrors, consoleStatus } from "./errors.ts";
import { execute } from "../native/execute.ts";
import { consoleFiles } from "./bundle.ts";
import { CallSchema, commandList, decodeCall, replyJson, specOf } from "./commands.ts";
import { verifyLogin } from "./login.ts";
import { CONSOLE_PATH, CSRF_HEADER, SESSION_COOKIE } from "./protocol.ts";
import { ConsoleSessions, type Session } from "./sessions.ts";

/** What the console needs from the node. */
export interface ConsoleDeps {
  readonly node: KmsNode;
  readonly sessions: ConsoleSessions;
  /** Sends a request to the node's own app as `identity` (the metrics and audit endpoints, with their own authorisation). */
  readonly fetchAs: (req: Request, identity: string) => Promise<Response>;
}

/**
 * Only this origin's scripts, styles, images and connections; no inline
 * code, no frames, no forms posting anywhere, and DOM sinks that would parse
 * strings as HTML refuse to (Trusted Types with no policy).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  "require-trusted-types-for 'script'", "trusted-types 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** Largest console API request (key imports and playground inputs are small). */
const MAX_BODY = 1 << 20;

const Base64 = (max: number) => v.pipe(v.string(), v.maxLength(max, "too long"), v.base64("expected base64"));
const LoginSchema = v.strictObject({
  challenge: v.pipe(v.string(), v.maxLength(64, "too long")),
  public_key: Base64(512),
  signature: Base64(256),
});

/** How an identity is known to the cluster: a SysAdmin, and/or a member of enclaves. */
interface Standing {
  readonly identity: string;
  readonly sysadmin: boolean;
  readonly enclaves: Array<{ name: string; privilege: string }>;
}

/** The console's page and API. */
export function consoleRoutes(deps: ConsoleDeps): Hono<Env> {
  const app = new Hono<Env>();
  const { node, sessions } = deps;
  const secure: MiddlewareHandler<Env> = async (c, next) => {
    await next();
    for (const [k, val] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, val);
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  };
  app.use(CONSOLE_PATH, secure);
  app.use(`${CONSOLE_PATH}/*`, secure);
  app.get(CONSOLE_PATH, (c) => c.redirect(`${CONSOLE_PATH}/`, 308));

  // The page.
  const page = async (c: Context<Env>, name: string) => {
    const files = await consoleFiles();
    if (!files) return c.json({ message: "the console is not built into this server: use the compiled binary, or run the sources under Bun" }, 501);
    const file = Object.hasOwn(files, name) ? files[name] : undefined;
    if (!file) return c.json({ message: "not found" }, 404);
    const etag = etagOf(file.body);
    const headers = { "content-type": file.type, etag, "cache-control": "no-cache" };
    if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
    return c.body(file.body, 200, headers);
  };
  app.get(`${CONSOLE_PATH}/`, (c) => page(c, "index.html"));
  app.get(`${CONSOLE_PATH}/:file{[a-z]+\\.[a-z]+}`, (c) => page(c, c.req.param("file")));

  // The API: JSON in and out, errors as {"message": …} with the protocol's status and words.
  const api = new Hono<Env>();
  api.use("*", bodyLimit({ maxSize: MAX_BODY, onError: (c) => c.json({ message: `request body too large: at most ${MAX_BODY} bytes` }, 413) }));
  api.onError((err, c) => {
    if (isClientError(err)) throw err; // the app's handler answers and logs it as the client's
    const e = err instanceof KmsError ? err : Errors.internal();
    if (!(err instanceof KmsError)) console.error(`kms: internal error on ${c.req.method} ${c.req.path}: ${(err as Error)?.name ?? "error"}`);
    return c.json({ message: e.message }, consoleStatus(e) as 400);
  });

  api.post("/challenge", async (c) => {
    sameOrigin(c);
    return c.json({ challenge: sessions.challenge() });
  });

  api.post("/login", async (c) => {
    const body = await jsonBody(c, LoginSchema);
    // Taken before the signature is checked: a challenge is good for one try.
    if (!sessions.takeChallenge(body.challenge)) throw ConsoleErrors.notSignedIn("login failed: the challenge expired or was already used; try again");
    const identity = verifyLogin(body.challenge, decodeBase64(body.public_key), decodeBase64(body.signature));
    if (!identity) throw ConsoleErrors.notSignedIn("login failed: the signature does not verify");
    const standing = await standingOf(node, identity);
    // An identity the cluster does not know is denied as the protocol denies it.
    if (!standing) throw Errors.accessDenied();
    const { token, session } = sessions.open(identity);
    setCookie(c, SESSION_COOKIE, token, {
      path: "/", secure: true, httpOnly: true, sameSite: "Strict",
      maxAge: Math.floor(sessions.limits.maxMs / 1000),
    });
    return c.json(sessionReply(standing, session, sessions.expiresAt(session)));
  });

  api.get("/session", async (c) => {
    const { session, standing } = await signedIn(c);
    return c.json(sessionReply(standing, session, sessions.expiresAt(session)));
  });

  api.post("/logout", async (c) => {
    await signedIn(c, true);
    sessions.close(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true });
    return c.json({});
  });

  api.get("/commands", async (c) => {
    await signedIn(c);
    return c.json({ commands: commandList() });
  });

  api.post("/call", async (c) => {
    const { session } = await signedIn(c, true);
    const call = await jsonBody(c, CallSchema);
    const spec = specOf(call.command);
    const [out] = await execute(node, session.identity, call.enclave, async () => [decodeCall(spec, call.request)]);
    return c.json({ reply: replyJson(spec, out) });
  });

  // The node's metrics and audit stream, fetched as the session's identity:
  // whatever those endpoints allow a client certificate, they allow here.
  for (const [route, target] of [["/metrics", "/v1/health/metrics"], ["/audit", "/v1/log/audit"]] as const) {
    api.get(route, async (c) => {
      const { session } = await signedIn(c);
      const url = new URL(target, c.req.url);
      url.search = new URL(c.req.url).search;
      const res = await deps.fetchAs(new Request(url, { signal: c.req.raw.signal }), session.identity);
      const headers = new Headers(res.headers);
      headers.delete("set-cookie");
      return new Response(res.body, { status: res.status, headers });
    });
  }
  api.all("*", (c) => c.json({ message: "not found" }, 404));
  app.route(`${CONSOLE_PATH}/api`, api);
  app.all(`${CONSOLE_PATH}/*`, (c) => c.json({ message: "not found" }, 404));

  /**
   * The caller's live session and standing; 401 without one. A state-changing
   * call must also come from this origin and echo the session's CSRF token.
   */
  async function signedIn(c: Context<Env>, changes = false): Promise<{ session: Session; standing: Standing }> {
    if (changes) sameOrigin(c);
    const token = getCookie(c, SESSION_COOKIE);
    const found = sessions.find(token);
    if ("problem" in found) {
      throw ConsoleErrors.notSignedIn(found.problem === "expired" ? "session expired: sign in again" : "not signed in: sign in with an API key");
    }
    const { session } = found;
    if (changes && !equal(utf8(c.req.header(CSRF_HEADER) ?? ""), utf8(session.csrf))) throw ConsoleErrors.crossSite();
    // Bound to the identity: once the cluster forgets it, its sessions end.
    const standing = await standingOf(node, session.identity);
    if (!standing) {
      sessions.closeIdentity(session.identity);
      throw ConsoleErrors.notSignedIn("session ended: this identity is no longer known to the cluster");
    }
    return { session, standing };
  }

  return app;
}

/**
 * Refuses cross-site requests: a browser names the origin of every POST
 * (Origin) and whether it is this site (Sec-Fetch-Site); the body must be
 * JSON, which no cross-site form or simple request can send.
 */
function sameOrigin(c: Context<Env>): void {
  const origin = c.req.header("origin");
  const site = c.req.header("sec-fetch-site");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) throw ConsoleErrors.crossSite();
  if (site !== undefined && site !== "same-origin") throw ConsoleErrors.crossSite();
  if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) throw ConsoleErrors.crossSite();
}

/** The JSON body, checked against `schema`; 400 naming the problem. */
async function jsonBody<S extends v.GenericSchema>(c: Context<Env>, schema: S): Promise<v.InferOutput<S>> {
  sameOrigin(c);
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch (err) {
    if (isClientError(err)) throw err;
    throw Errors.badRequest("invalid request: the body is not JSON");
  }
  const r = v.safeParse(schema, raw);
  if (!r.success) {
    const at = v.getDotPath(r.issues[0]);
    throw Errors.badRequest(r.issues[0].message.startsWith("invalid") ? r.issues[0].message : `invalid request: ${at ? `${at}: ` : ""}${r.issues[0].message}`);
  }
  return r.output;
}

/** How the cluster knows `identity` now (after pending writes to it settle); undefined when not at all. */
async function standingOf(node: KmsNode, identity: string): Promise<Standing | undefined> {
  const names = () => [...node.state.enclaves.keys()];
  await node.readBarrier([Obj.adminKey, Obj.sysAdmin(identity), Obj.enclaves, ...names().map((e) => Obj.identity(e, identity))]);
  const state = node.state;
  const sysadmin = (identity === node.info.adminIdentity && !state.adminKey.disabled) || state.isSysAdmin(identity);
  const enclaves = [...state.enclaves.values()].flatMap((e) => {
    const record = e.identities.get(identity);
    return record ? [{ name: e.record.name, privilege: record.privilege }] : [];
  });
  return sysadmin || enclaves.length ? { identity, sysadmin, enclaves } : undefined;
}

function sessionReply(standing: Standing, session: Session, expiresAt: number) {
  return { ...standing, csrf: session.csrf, expires_at: new Date(expiresAt).toISOString() };
}

const etags = new Map<string, string>();

/** A strong ETag for a file's body (the files never change while the process runs). */
function etagOf(body: string): string {
  let tag = etags.get(body);
  if (!tag) etags.set(body, tag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`);
  return tag;
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
