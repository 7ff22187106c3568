/** KES's error replies: `{"message": …}` as application/json, with KES's canonical messages. */
import type { Context } from "hono";
import { KmsError } from "../../state/errors.ts";
import { statusOf } from "../../wire/errors.ts";

/** KES's canonical error messages (kes-go compares status and message). */
export const KesMessages = {
  denied: "not authorized: insufficient permissions",
  keyExists: "key already exists",
  notAuthentic: "decryption failed: ciphertext is not authentic",
  storeUnreachable: "key store is not reachable",
  policyNotFound: "policy does not exist",
} as const;

/** An error in KES's wire form: {"message": …} with the status. */
export function kesError(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ message }, status as 400, headers);
}

/** Maps any error to KES's status and message, by its kind; internal details never leak. */
export function toKesError(err: unknown): { status: number; message: string } {
  if (!(err instanceof KmsError)) return { status: 500, message: "internal server error" };
  switch (err.kind) {
    case "denied": return { status: 403, message: KesMessages.denied };
    case "key-exists": return { status: 400, message: KesMessages.keyExists };
    case "invalid-ciphertext": return { status: 400, message: KesMessages.notAuthentic };
    // The rest answer as the native protocol does.
    default: return { status: statusOf(err), message: err.message };
  }
}
