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
  /** This server does not offer the feature (switched off, or not in this mode): 501, whatever was asked. */
  | "switched-off"
  | "internal"
  // Key lifecycle and the AWS API (issue 15): conditions AWS names apart.
  /** The key is disabled: it refuses crypto until enabled. */
  | "key-disabled"
  /** The key is scheduled for deletion: it refuses crypto until the deletion is cancelled. */
  | "key-pending-deletion"
  /** The key's state does not allow the operation (e.g. cancelling a deletion never scheduled). */
  | "invalid-key-state"
  /** The key's usage does not allow the operation (a MAC with an encryption key). */
  | "invalid-key-usage"
  /** A ciphertext made with another key than the one the caller named. */
  | "incorrect-key"
  /** A MAC that does not verify. */
  | "invalid-mac"
  /** A limit reached (too many versions of a key). */
  | "limit-exceeded"
  /** The request asks for something kms never does (a key spec, an origin, rotating a MAC key): 400. */
  | "unsupported-operation"
  /** A paging marker this server did not hand out. */
  | "invalid-marker"
  | "invalid-tag";

/** Every kind, for tables that must cover them all. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "denied", "not-found", "exists", "key-exists", "conflict", "invalid", "invalid-ciphertext", "too-large", "unavailable",
  "outcome-unknown", "upstream", "switched-off", "internal", "key-disabled", "key-pending-deletion", "invalid-key-state", "invalid-key-usage",
  "incorrect-key", "invalid-mac", "limit-exceeded", "unsupported-operation", "invalid-marker", "invalid-tag",
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
  tooManyVersions: (max: number) => new KmsError("limit-exceeded", `key has too many versions: at most ${max} (delete old versions first)`),
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
  switchedOff: (message: string) => new KmsError("switched-off", message),
  internal: () => new KmsError("internal", "internal server error"),
  noDeletedKey: () => new KmsError("not-found", "no deleted key of that name is kept for recovery"),
  noDeletedEnclave: () => new KmsError("not-found", "no deleted enclave of that name is kept for recovery"),
  hsmKeyNotFound: () => new KmsError("not-found", "HSM key is not configured"),
  hsmKeyExists: () => new KmsError("exists", "HSM key is already configured"),
  lastHsmKey: () => new KmsError("conflict", "cannot remove the last HSM key: add another one first ('kms add-hsm')"),
  tooManyHsmKeys: (max: number) => new KmsError("conflict", `too many HSM keys: at most ${max}`),
  // Key lifecycle (issue 15): every protocol refuses crypto with a disabled or pending-deletion key.
  keyDisabled: () => new KmsError("key-disabled", "key is disabled"),
  keyPendingDeletion: () => new KmsError("key-pending-deletion", "key is pending deletion"),
  invalidKeyState: (message: string) => new KmsError("invalid-key-state", message),
  invalidKeyUsage: (message: string) => new KmsError("invalid-key-usage", message),
  incorrectKey: () => new KmsError("incorrect-key", "the ciphertext was made with another key than the one named"),
  invalidMac: () => new KmsError("invalid-mac", "the MAC does not verify"),
  aliasExists: () => new KmsError("exists", "alias already exists"),
  aliasNotFound: () => new KmsError("not-found", "alias does not exist"),
  accessKeyExists: () => new KmsError("exists", "access key already exists"),
  accessKeyNotFound: () => new KmsError("not-found", "access key does not exist"),
  unsupportedOperation: (message: string) => new KmsError("unsupported-operation", message),
  invalidMarker: () => new KmsError("invalid-marker", "invalid marker"),
  invalidTag: (message: string) => new KmsError("invalid-tag", message),
} as const;
