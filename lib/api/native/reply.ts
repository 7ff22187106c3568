import { Errors, KmsError } from "../../state/errors.ts";
import { statusOf } from "../../wire/errors.ts";
import { encode } from "../../wire/proto.ts";

/** A 200 reply of binary frames, with an explicit Content-Length (the Go client needs it). */
export function framesReply(body: Uint8Array<ArrayBuffer>): Response {
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
  });
}

/** An error in the protocol's format: protobuf ErrResponse, or JSON when the client asks for JSON. */
export function errorReply(err: unknown, accept: string | undefined): Response {
  const e = err instanceof KmsError ? err : Errors.internal();
  const status = statusOf(e);
  if (accept?.includes("application/json") && !accept.includes("application/octet-stream")) {
    return Response.json({ message: e.message }, { status });
  }
  const body = encode("ErrResponse", { message: e.message });
  return new Response(body, {
    status,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
  });
}
