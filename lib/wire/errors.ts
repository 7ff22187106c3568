/**
 * The native protocol's statuses for kms's errors (MinIO's client compares
 * status and message), also used by node-to-node calls: the one place a
 * kind becomes an HTTP status, and back.
 */
import { type ErrorKind, KmsError } from "../state/errors.ts";

const STATUS: Readonly<Record<ErrorKind, number>> = {
  "denied": 403,
  "not-found": 404,
  "exists": 409,
  "key-exists": 409,
  "conflict": 409,
  "invalid": 400,
  "invalid-ciphertext": 400,
  "too-large": 413,
  "unavailable": 503,
  "outcome-unknown": 504,
  "upstream": 502,
  "switched-off": 501,
  "internal": 500,
  "key-disabled": 409,
  "key-pending-deletion": 409,
  "invalid-key-state": 409,
  "invalid-key-usage": 400,
  "incorrect-key": 400,
  "invalid-mac": 400,
  "limit-exceeded": 409,
  "unsupported-operation": 400,
  "invalid-marker": 400,
  "invalid-tag": 400,
};

/** The HTTP status of an error (500 for anything that is not a KmsError). */
export function statusOf(err: unknown): number {
  return err instanceof KmsError ? STATUS[err.kind] : 500;
}

/** The kind a bare status stands for, when nothing better is known (a peer's unsealed reply). */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 409) return "conflict";
  const kind = (Object.keys(STATUS) as ErrorKind[]).find((k) => STATUS[k] === status);
  return kind ?? (status >= 500 ? "internal" : "invalid");
}
