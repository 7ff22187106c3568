/**
 * The KES JSON API (reference/kes-api.md) over a KesBackend: the same routes,
 * JSON shapes, error messages and statuses as KES, so MinIO's KES client and
 * the kes CLI work unchanged. Used by the stateful server (one enclave) and by
 * `kms edge` (an external key store). This file assembles the app and holds
 * the key routes; server.ts and policy.ts hold the others.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { encodeBase64 } from "../../encoding/base64.ts";
import type { Env } from "../../net/env.ts";
import type { KesOp } from "./backend.ts";
import { kesError } from "./errors.ts";
import { type Context, type KesKit, kesKit, KesMetrics, type KesRoutesOptions } from "./kit.ts";
import { kesHexOf } from "../../identity/kes.ts";
import { policyRoutes } from "./policy.ts";
import { DecryptBody, EncryptBody, GenerateBody, HmacBody, ImportBody, KesName } from "./schemas.ts";
import { serverRoutes } from "./server.ts";
import { KES_MAX_BODY } from "./table.ts";

const KES_PATHS = /^\/v1\/(key|identity|policy)\/|^\/v1\/(status|metrics|api|ready)\/?$/;

/** The KES API as a hono app. */
export function kesRoutes(opts: KesRoutesOptions): Hono<Env> {
  const app = new Hono<Env>();
  const metrics = new KesMetrics();

  app.use("/v1/*", async (c, next) => {
    const started = performance.now();
    await next();
    if (!KES_PATHS.test(c.req.path)) return;
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

  const kit = kesKit(app, opts);
  serverRoutes(kit, metrics);
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

