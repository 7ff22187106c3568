/**
 * Errors that reach a client. Lower layers throw these through the `Errors`
 * factories; each carries a kind (what went wrong) and a message, and each
 * API maps the kind to its own status and wire format in one place
 * (wire/errors.ts for the native protocol, api/kes/errors.ts for KES).
 * Messages never contain secrets.
 */

/** What went wrong, as far as any protocol needs to tell it apart. */
export type ErrorKind =
  | "denied"
  | "not-found"
  | "exists"
  /** A key of that name exists (KES answers it apart from other conflicts). */
  | "key-exists"
  | "conflict"
  | "invalid"
  /** A ciphertext that does not open (KES: "not authentic"). */
  | "invalid-ciphertext"
  | "too-large"
  | "unavailable"
  /** A write whose fate this node cannot know: it may or may not have been applied. */
  | "outcome-unknown"
  /** An external key store failed the request (edge mode). */
  | "upstream"
  | "internal";

/** Every kind, for tables that must cover them all. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "denied", "not-found", "exists", "key-exists", "conflict", "invalid", "invalid-ciphertext", "too-large", "unavailable",
  "outcome-unknown", "upstream", "internal",
];

/** An error a client may see: its kind and message. */
export class KmsError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = "KmsError";
    this.kind = kind;
  }
}

/** The errors of kms; the canonical ones carry MinIO KMS's exact messages (clients compare them). */
export const Errors = {
  accessDenied: () => new KmsError("denied", "access denied: insufficient permissions"),
  enclaveExists: () => new KmsError("exists", "enclave already exists"),
  enclaveNotFound: () => new KmsError("not-found", "enclave does not exist"),
  keyExists: () => new KmsError("key-exists", "key already exists"),
  keyNotFound: () => new KmsError("not-found", "key does not exist"),
  policyNotFound: () => new KmsError("not-found", "policy does not exist"),
  identityExists: () => new KmsError("exists", "identity already exists"),
  identityNotFound: () => new KmsError("not-found", "identity does not exist"),
  invalidCiphertext: () => new KmsError("invalid-ciphertext", "invalid ciphertext"),
  badRequest: (message: string) => new KmsError("invalid", message),
  tooManyVersions: (max: number) => new KmsError("conflict", `key has too many versions: at most ${max} (delete old versions first)`),
  tooMuchWork: () => new KmsError("invalid", "invalid request: too many decryption attempts in one request"),
  unavailable: (message: string) => new KmsError("unavailable", message),
  /** Refused for a reason other than the caller's permissions (a replayed call, a bad proof). */
  refused: (message: string) => new KmsError("denied", message),
  notFound: (message: string) => new KmsError("not-found", message),
  conflict: (message: string) => new KmsError("conflict", message),
  tooLarge: (message: string) => new KmsError("too-large", message),
  outcomeUnknown: (message: string) => new KmsError("outcome-unknown", message),
  keyStoreUnreachable: () => new KmsError("upstream", "key store is not reachable"),
  keyStoreFailed: (message: string) => new KmsError("upstream", message),
  internal: () => new KmsError("internal", "internal server error"),
} as const;
