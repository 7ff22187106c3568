import type { Context } from "hono";

/**
 * Errors a client causes with its connection or its bytes (a malformed or
 * unfinished body, a connection dropped mid-request) rather than the server.
 * They are answered 400 and logged as client errors, never as internal ones.
 */

/** Whether err came from the client's request stream (aborted, reset, unparsable). */
export function isClientError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? "";
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code.startsWith("HPE_") ||
    err.name === "AbortError" || /\baborted\b|premature(ly)? close/i.test(err.message);
}

/** The message a client error is answered (and logged) with. */
export const CLIENT_ERROR_MESSAGE = "invalid request: malformed or incomplete HTTP request";

/** A raw HTTP/1.1 400 reply with an exact Content-Length, for errors the HTTP parser reports before any handler runs. */
export function rawBadRequest(code: string | undefined): string {
  const tooLarge = code === "HPE_HEADER_OVERFLOW";
  const body = JSON.stringify({ message: tooLarge ? "request header too large" : CLIENT_ERROR_MESSAGE });
  const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request";
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Where the last-resort handler logs: client errors as warnings, ours as errors. */
export interface ErrorLog {
  warn(msg: string): void;
  error(msg: string): void;
}

/**
 * The last-resort answer to a request that failed with `err` on `where`
 * ("METHOD /path"): a client error is answered 400 and logged as the
 * client's; anything else is a 500 logged as an internal error, naming only
 * the error's type (messages could quote request data).
 */
export function lastResort(err: unknown, where: string, log: ErrorLog): { status: 400 | 500; message: string } {
  if (isClientError(err)) {
    log.warn(`client error on ${where}: ${CLIENT_ERROR_MESSAGE}`);
    return { status: 400, message: CLIENT_ERROR_MESSAGE };
  }
  log.error(`internal error on ${where}: ${err instanceof Error ? err.name : "error"}`);
  return { status: 500, message: "internal server error" };
}

/** The apps' last-resort error handler (see lastResort). */
export function onAppError(log: ErrorLog) {
  return (err: Error, c: Context): Response => {
    const { status, message } = lastResort(err, `${c.req.method} ${c.req.path}`, log);
    return c.json({ message }, status);
  };
}
