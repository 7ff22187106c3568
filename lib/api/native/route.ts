import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Errors, KmsError } from "../../state/errors.ts";
import type { AppDeps } from "../deps.ts";
import type { Env } from "../../net/env.ts";
import { isClientError } from "../../net/errors.ts";
import { noteEach, noteEnclave } from "../request-note.ts";
import { COMMANDS } from "./commands.ts";
import { type Decoded, execute, MAX_FRAMES, validated } from "./execute.ts";
import { encodeFrames, type Frame, FrameError, parseFrames } from "../../wire/frames.ts";
import { decode, encode, InvalidMessageError } from "../../wire/proto.ts";
import { errorReply, framesReply } from "./reply.ts";

export { DECRYPT_BUDGET, MAX_FRAMES } from "./execute.ts";

/** Largest request body. */
export const MAX_BODY = 8 << 20;

/** The native protocol's command endpoint: POST /v1/kms[/<enclave>] with framed protobuf. */
export function nativeRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = bodyLimit({
    maxSize: MAX_BODY,
    onError: (c) => errorReply(Errors.tooLarge(`request body too large: at most ${MAX_BODY} bytes`), c.req.header("accept")),
  });
  const handle = async (c: import("hono").Context<Env>, enclave: string) => {
    const accept = c.req.header("accept");
    noteEnclave(c.req.raw, enclave);
    try {
      const decoded: Decoded[] = [];
      const outputs = await execute(deps.node, c.env.identity, enclave, async () => {
        decoded.push(...parseFrames(new Uint8Array(await c.req.arrayBuffer()), MAX_FRAMES).map(decodeFrame));
        noteEach(c.req.raw, decoded, (d) => d.spec.name, (d) => d.spec.id, objectOf);
        return decoded;
      });
      const replies: Frame[] = decoded.map((d, i) => {
        const out = outputs[i];
        return { id: d.spec.id, payload: d.spec.response && out ? encode(d.spec.response, out) : new Uint8Array() };
      });
      return framesReply(encodeFrames(replies));
    } catch (err) {
      if (isClientError(err)) throw err; // the app's handler answers and logs it as the client's
      return errorReply(toKmsError(err), accept);
    }
  };
  app.post("/v1/kms", limit, (c) => handle(c, ""));
  app.post("/v1/kms/", limit, (c) => handle(c, ""));
  app.post("/v1/kms/:enclave", limit, (c) => handle(c, c.req.param("enclave")));
  app.post("/v1/kms/:enclave/", limit, (c) => handle(c, c.req.param("enclave")));
  // Anything else under /v1/kms still answers in the protocol's error format.
  app.all("/v1/kms/*", (c) => errorReply(Errors.notFound("not found"), c.req.header("accept")));
  return app;
}

/** What a frame acts on, for the audit: its policy resource, else the enclave or node it names. */
function objectOf(d: Decoded): string {
  const named = d.req as { name?: unknown; host?: unknown };
  const object = d.spec.resource?.(d.req) ?? named.name ?? named.host;
  return typeof object === "string" ? object : "";
}

/** Looks up, decodes and validates one frame; any problem is a 400 naming it. */
function decodeFrame(frame: Frame): Decoded {
  const spec = COMMANDS.get(frame.id);
  if (!spec) throw Errors.badRequest(`invalid request: unknown command ${frame.id}`);
  return validated(spec, decode(spec.request, frame.payload));
}

function toKmsError(err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  if (err instanceof FrameError || err instanceof InvalidMessageError) return Errors.badRequest(err.message);
  return Errors.internal();
}
