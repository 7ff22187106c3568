import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { DecryptBudget } from "../../crypto/keyring.ts";
import { Errors, KmsError } from "../../state/errors.ts";
import { nameProblem } from "../../state/names.ts";
import { Obj, callerReads } from "../../node/pending.ts";
import { authorize, type Caller, callerOf } from "../../state/policy.ts";
import type { AppDeps } from "../deps.ts";
import type { Env } from "../../net/env.ts";
import { isClientError, lastResort } from "../../net/errors.ts";
import type { CommandContext, CommandSpec } from "./command.ts";
import { disabledAdmin } from "./cluster.ts";
import { COMMANDS } from "./commands.ts";
import { encodeFrames, type Frame, FrameError, parseFrames } from "../../wire/frames.ts";
import { decode, encode, InvalidMessageError } from "../../wire/proto.ts";
import { errorReply, framesReply, toResponse } from "./reply.ts";
import { BodyTooLarge, type RawReply, type RawRoute } from "../../net/serve.ts";

/** Largest request body, and most frames in one pipelined request. */
export const MAX_BODY = 8 << 20;
export const MAX_FRAMES = 10_000;
/**
 * AEAD opens one request may spend on decryption: two per frame covers a
 * ciphertext that names its version plus an imported key's KES fallback.
 */
export const DECRYPT_BUDGET = 2 * MAX_FRAMES;

interface Decoded {
  readonly spec: CommandSpec;
  readonly req: unknown;
}

/** The native protocol's command endpoint: POST /v1/kms[/<enclave>] with framed protobuf (the app's route; see nativeRawRoute for the server's). */
export function nativeRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => toResponse(tooLarge(c.req.header("accept"))),
  });
  const handle = async (c: import("hono").Context<Env>, enclave: string) =>
    toResponse(await runNative(deps, c.env, enclave, async () => new Uint8Array(await c.req.arrayBuffer()), c.req.header("accept")));
  app.post("/v1/kms", limit, (c) => handle(c, ""));
  app.post("/v1/kms/", limit, (c) => handle(c, ""));
  app.post("/v1/kms/:enclave", limit, (c) => handle(c, c.req.param("enclave")));
  app.post("/v1/kms/:enclave/", limit, (c) => handle(c, c.req.param("enclave")));
  // Anything else under /v1/kms still answers in the protocol's error format.
  app.all("/v1/kms/*", (c) => toResponse(errorReply(Errors.notFound("not found"), c.req.header("accept"))));
  return app;
}

/** POST /v1/kms[/][<enclave>[/]] with nothing to decode in the path (no %, no query): the raw route's share; the rest goes to the app. */
const RAW_PATH = /^\/v1\/kms(?:\/([A-Za-z0-9_-][A-Za-z0-9_.-]*))?\/?$/;

/**
 * The same endpoint as a raw route of the server (lib/net/serve.ts): no web
 * Request per call, the reply in one write. Paths that need decoding (and
 * every other method) are left to the app, which answers them as before.
 */
export function nativeRawRoute(deps: AppDeps, log: (line: string) => void): RawRoute {
  return {
    maxBody: MAX_BODY,
    match: (method, url) => {
      const m = method === "POST" ? RAW_PATH.exec(url) : null;
      return m ? m[1] ?? "" : undefined;
    },
    handle: (enclave, read, peer, headers) => runNative(deps, peer, enclave, read, headers.accept),
    tooLarge: (headers) => tooLarge(headers.accept),
    failed: (err, where) => {
      const { status, message } = lastResort(err, where, log);
      const body = new TextEncoder().encode(JSON.stringify({ message }));
      return { status, headers: { "content-type": "application/json", "content-length": String(body.length) }, body };
    },
  };
}

function tooLarge(accept: string | undefined): RawReply {
  return errorReply(Errors.tooLarge(`request body too large: at most ${MAX_BODY} bytes`), accept);
}

/**
 * One native request: who asks (`peer`), in which enclave, with the body
 * `read` gives (read only once the caller is known). Resolves to the reply;
 * rejects only with a client error of the body's stream (the caller answers it).
 */
async function runNative(deps: AppDeps, peer: { identity?: string }, enclave: string, read: () => Promise<Uint8Array>, accept: string | undefined): Promise<RawReply> {
  try {
    const node = deps.node;
    const identity = peer.identity;
    const admin = node.info.adminIdentity;
    // Strangers are refused before anything else, and learn nothing: they
    // wait only for pending changes to their own records (which could make them known).
    await node.readBarrier(callerReads(node.state, admin, identity, enclave));
    // A disabled admin API key may only re-enable itself (the command checks the HSM proof).
    const recovery = disabledAdmin(node, identity);
    const resolve = (): Caller | undefined =>
      recovery && disabledAdmin(node, identity) ? { identity: identity!, privilege: "SysAdmin" } : callerOf(node.state, admin, identity, enclave);
    let caller = resolve();
    if (!caller) throw Errors.accessDenied();
    const frames = parseFrames(await read(), MAX_FRAMES);
    const decoded = frames.map(decodeFrame);
    if (recovery && !(decoded.length === 1 && decoded[0].spec.name === "CLUSTER:ADMINKEY" && (decoded[0].req as { enabled: boolean }).enabled)) {
      throw Errors.accessDenied();
    }
    if (decoded.length > 1 && decoded.some((d) => d.spec.write)) {
      throw Errors.badRequest("invalid request: write commands cannot be pipelined");
    }
    // Every frame is authorised before any runs, and before existence checks,
    // so a denied caller cannot tell what exists (nor what is pending).
    authorizeAll(caller, decoded, enclave);
    // Then wait for pending changes to what the frames read, and nothing else:
    // crypto on one key never waits for a write to another.
    const reads = new Set(callerReads(node.state, admin, identity, enclave));
    for (const d of decoded) {
      if (d.spec.inEnclave && enclave) reads.add(Obj.enclave(enclave));
      for (const o of d.spec.reads?.(enclave, d.req) ?? []) reads.add(o);
    }
    await node.readBarrier(reads);
    // The caller's records may have changed while the request waited.
    caller = resolve();
    if (!caller) throw Errors.accessDenied();
    authorizeAll(caller, decoded, enclave);
    const ctx: CommandContext = { node: deps.node, enclave, identity: caller.identity, caller, budget: new DecryptBudget(DECRYPT_BUDGET) };
    if (decoded.some((d) => d.spec.inEnclave)) checkEnclave(ctx);
    const replies: Frame[] = [];
    for (const d of decoded) {
      const out = await d.spec.run(ctx, d.req);
      replies.push({ id: d.spec.id, payload: d.spec.response && out ? encode(d.spec.response, out) : new Uint8Array() });
    }
    return framesReply(encodeFrames(replies));
  } catch (err) {
    if (isClientError(err) || err instanceof BodyTooLarge) throw err; // the body's stream failed: the caller answers
    return errorReply(toKmsError(err), accept);
  }
}

/** 403 unless `caller` may run every frame. */
function authorizeAll(caller: Caller, decoded: readonly Decoded[], enclave: string): void {
  for (const d of decoded) {
    if (!authorize(caller, d.spec.name, d.spec.inEnclave ? enclave : "", d.spec.resource?.(d.req))) throw Errors.accessDenied();
  }
}

/** Looks up, decodes and validates one frame; any problem is a 400 naming it. */
function decodeFrame(frame: Frame): Decoded {
  const spec = COMMANDS.get(frame.id);
  if (!spec) throw Errors.badRequest(`invalid request: unknown command ${frame.id}`);
  const message = decode(spec.request, frame.payload);
  const r = v.safeParse(spec.schema, message);
  // The message names the field's problem; protocol and policy names would mean nothing to most people.
  if (!r.success) throw Errors.badRequest(`invalid request: ${r.issues[0].message}`);
  return { spec, req: r.output };
}

/** Enclave-scoped commands need an existing enclave named by the path. */
function checkEnclave(ctx: CommandContext): void {
  if (ctx.enclave === "" || nameProblem(ctx.enclave)) throw Errors.enclaveNotFound();
  ctx.node.state.enclave(ctx.enclave);
}

function toKmsError(err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  if (err instanceof FrameError || err instanceof InvalidMessageError) return Errors.badRequest(err.message);
  return Errors.internal();
}
