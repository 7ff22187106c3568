import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Errors, KmsError } from "../../state/errors.ts";
import type { AppDeps } from "../deps.ts";
import type { Env } from "../../net/env.ts";
import { type ErrorLog, isClientError, lastResort } from "../../net/errors.ts";
import { BodyTooLarge, type RawReply } from "../../net/serve.ts";
import { ServeElsewhere } from "../../node/node.ts";
import { type NotingRoute, noteEach, noteEnclave, noteItems } from "../request-note.ts";
import { type CallerMemo, memoOf } from "./caller-memo.ts";
import { COMMANDS } from "./commands.ts";
import { type Decoded, execute, MAX_FRAMES, validated } from "./execute.ts";
import { TimeSlice } from "./slice.ts";
import { FrameError, FramePieces, frameSpans } from "../../wire/frames.ts";
import { decodeIn, encodeFrame, InvalidMessageError } from "../../wire/proto.ts";
import { errorReply, framesReply, toResponse } from "./reply.ts";

export { DECRYPT_BUDGET, MAX_FRAMES } from "./execute.ts";

/** Largest request body. */
export const MAX_BODY = 8 << 20;

/** The native protocol's command endpoint: POST /v1/kms[/<enclave>] with framed protobuf (the app's route; see nativeRawRoute). */
export function nativeRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => toResponse(tooLarge(c.req.header("accept"))),
  });
  const handle = async (c: import("hono").Context<Env>, enclave: string) => {
    noteEnclave(c.req.raw, enclave);
    // Each frame is noted for the audit and the metrics (observe.ts) once decoded.
    const note = (decoded: readonly Decoded[]) => noteEach(c.req.raw, decoded, (d) => d.spec.name, (d) => d.spec.id, objectOf);
    return toResponse(await runNative(deps, c.env, enclave, async () => new Uint8Array(await c.req.arrayBuffer()), c.req.header("accept"), note));
  };
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
 * It notes the request as the app's route does; observe.ts's observedRoute
 * turns the note into the same metrics and audit record.
 */
export function nativeRawRoute(deps: AppDeps, log: ErrorLog): NotingRoute {
  return {
    maxBody: MAX_BODY,
    match: (method, url) => {
      const m = method === "POST" ? RAW_PATH.exec(url) : null;
      return m ? m[1] ?? "" : undefined;
    },
    begin: (enclave, req, note) => ({
      handle: (read) => {
        note.enclave = enclave;
        const noted = (decoded: readonly Decoded[]) => noteItems(note, decoded, (d) => d.spec.name, (d) => d.spec.id, objectOf);
        return runNative(deps, req.peer, enclave, read, req.headers.accept, noted, memoOf(req.peer));
      },
      tooLarge: () => tooLarge(req.headers.accept),
      failed: (err) => {
        const { status, message } = lastResort(err, `${req.method} ${req.path}`, log);
        const body = new TextEncoder().encode(JSON.stringify({ message }));
        return { status, headers: { "content-type": "application/json", "content-length": String(body.length) }, body };
      },
      end: (reply) => reply,
    }),
  };
}

function tooLarge(accept: string | undefined): RawReply {
  return errorReply(Errors.tooLarge(`request body too large: at most ${MAX_BODY} bytes`), accept);
}

/**
 * One native request: who asks (`peer`), in which enclave, with the body
 * `read` gives (read only once the caller is known), through the shared
 * pipeline (execute.ts), with the connection's `memo` of the caller if it
 * has one. Resolves to the reply; rejects only with a client
 * error of the body's stream (the caller answers it).
 */
async function runNative(
  deps: AppDeps, peer: { identity?: string }, enclave: string, read: () => Promise<Uint8Array>, accept: string | undefined,
  note?: (decoded: readonly Decoded[]) => void, memo?: CallerMemo,
): Promise<RawReply> {
  try {
    // A long batch takes turns with other requests (slice.ts): decoding, running and encoding pause alike.
    const slice = new TimeSlice();
    const decoded: Decoded[] = [];
    // Each frame's reply is encoded as soon as it has run, into pieces: no batch of outputs
    // is kept alive, and a long batch's reply is never joined in one turn.
    const replies = new FramePieces();
    await execute(deps.node, peer.identity, enclave, async () => {
      const body = await read();
      const spans = frameSpans(body, MAX_FRAMES);
      for (let i = 0; i < spans.count; i++) {
        if (slice.due()) await slice.pass();
        decoded.push(decodeFrame(spans.ids[i], body, spans.starts[i], spans.ends[i]));
      }
      note?.(decoded);
      return decoded;
    }, slice, memo, (i, out) => {
      const d = decoded[i];
      if (d.spec.response && out) encodeFrame(replies, d.spec.id, d.spec.response, out, decoded.length - i);
      else replies.add(d.spec.id, EMPTY, decoded.length - i);
    });
    return framesReply(replies.finish());
  } catch (err) {
    if (isClientError(err) || err instanceof BodyTooLarge) throw err; // the body's stream failed: the caller answers
    if (err instanceof ServeElsewhere) throw err; // a serving thread hands the request to the main thread
    return errorReply(toKmsError(err), accept);
  }
}

/** What a frame acts on, for the audit: its policy resource, else the enclave or node it names. */
function objectOf(d: Decoded): string {
  const named = d.req as { name?: unknown; host?: unknown };
  const object = d.spec.resource?.(d.req) ?? named.name ?? named.host;
  return typeof object === "string" ? object : "";
}

const EMPTY = new Uint8Array(0);

/** Looks up, decodes and validates the frame of command `id` at `body[start, end)`; any problem is a 400 naming it. */
function decodeFrame(id: number, body: Uint8Array, start: number, end: number): Decoded {
  const spec = COMMANDS.get(id);
  if (!spec) throw Errors.badRequest(`invalid request: unknown command ${id}`);
  return validated(spec, decodeIn(spec.request, body, start, end));
}

function toKmsError(err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  if (err instanceof FrameError || err instanceof InvalidMessageError) return Errors.badRequest(err.message);
  return Errors.internal();
}
