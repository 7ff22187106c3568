import { type RawReply, replyBytes } from "../../net/serve.ts";
import { Errors, KmsError } from "../../state/errors.ts";
import { statusOf } from "../../wire/errors.ts";
import { encode } from "../../wire/proto.ts";

/** The Content-Type the runtime's Response.json gives: the raw route answers exactly as the hono route does. */
const JSON_TYPE = Response.json(null).headers.get("content-type") ?? "application/json";
const encoder = new TextEncoder();

/** A 200 reply of binary frames (whole or in pieces), with an explicit Content-Length (the Go client needs it). */
export function framesReply(body: Uint8Array | readonly Uint8Array[]): RawReply {
  let length = 0;
  if (body instanceof Uint8Array) length = body.length;
  else for (const b of body) length += b.length;
  return { status: 200, headers: { "content-type": "application/octet-stream", "content-length": String(length) }, body };
}

/** An error in the protocol's format: protobuf ErrResponse, or JSON when the client asks for JSON. */
export function errorReply(err: unknown, accept: string | undefined): RawReply {
  const e = err instanceof KmsError ? err : Errors.internal();
  const status = statusOf(e);
  if (accept?.includes("application/json") && !accept.includes("application/octet-stream")) return jsonReply(status, e.message);
  const body = encode("ErrResponse", { message: e.message });
  return { status, headers: { "content-type": "application/octet-stream", "content-length": String(body.length) }, body };
}

/** A JSON {"message"} reply, typed as Response.json types it. */
export function jsonReply(status: number, message: string): RawReply {
  const body = encoder.encode(JSON.stringify({ message }));
  return { status, headers: { "content-type": JSON_TYPE, "content-length": String(body.length) }, body };
}

/** A raw reply as a web Response (the hono route's). */
export function toResponse(r: RawReply): Response {
  return new Response(replyBytes(r.body) as Uint8Array<ArrayBuffer>, { status: r.status, headers: r.headers });
}
