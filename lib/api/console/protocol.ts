/**
 * What the console's page and server agree on. Pure constants: the page's
 * bundle imports this file too.
 */

/** Where the console lives on a node's listener. */
export const CONSOLE_PATH = "/console";
/** The session cookie's name (the __Host- prefix makes browsers demand Secure, Path=/ and no Domain). */
export const SESSION_COOKIE = "__Host-kms-console";
/** Header that carries the session's CSRF token on every state-changing call. */
export const CSRF_HEADER = "x-kms-csrf";
/**
 * What the page signs to log in: this label, then the server's challenge.
 * The label keeps the signature from meaning anything anywhere else (a TLS
 * handshake signs its own, different context strings).
 */
export const LOGIN_LABEL = "kms console login v1\n";

/** The message signed for a challenge. */
export function loginMessage(challenge: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(LOGIN_LABEL + challenge);
}
