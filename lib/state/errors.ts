/**
 * Errors that reach a client. Lower layers throw these; each API maps them to
 * its own wire format in one place. Messages never contain secrets.
 */
export class KmsError extends Error {
  /** HTTP status the error maps to. */
  readonly status: number;
  /** A finer condition that some protocols name apart (AWS's exception names: lib/api/aws/errors.ts). */
  readonly condition?: ErrorCondition;
  constructor(status: number, message: string, condition?: ErrorCondition) {
    super(message);
    this.name = "KmsError";
    this.status = status;
    if (condition) this.condition = condition;
  }
}

/** Conditions a protocol may need to tell apart beyond the status (see KmsError.condition). */
export type ErrorCondition =
  | "invalid-ciphertext"
  | "key-exists"
  | "too-many-versions"
  | "key-disabled"
  | "key-pending-deletion"
  | "invalid-key-state"
  | "invalid-key-usage"
  | "incorrect-key"
  | "invalid-mac"
  | "alias-exists"
  | "unsupported"
  | "invalid-marker"
  | "tag";

/** The canonical errors of MinIO KMS's protocol: clients compare status and message exactly. */
export const Errors = {
  accessDenied: () => new KmsError(403, "access denied: insufficient permissions"),
  enclaveExists: () => new KmsError(409, "enclave already exists"),
  enclaveNotFound: () => new KmsError(404, "enclave does not exist"),
  keyExists: () => new KmsError(409, "key already exists", "key-exists"),
  keyNotFound: () => new KmsError(404, "key does not exist"),
  policyNotFound: () => new KmsError(404, "policy does not exist"),
  identityNotFound: () => new KmsError(404, "identity does not exist"),
  invalidCiphertext: () => new KmsError(400, "invalid ciphertext", "invalid-ciphertext"),
  badRequest: (message: string) => new KmsError(400, message),
  tooManyVersions: (max: number) => new KmsError(409, `key has too many versions: at most ${max} (delete old versions first)`, "too-many-versions"),
  tooMuchWork: () => new KmsError(400, "invalid request: too many decryption attempts in one request"),
  unavailable: (message: string) => new KmsError(503, message),
  // Key lifecycle (issue 15): every protocol refuses crypto with a disabled or pending-deletion key.
  keyDisabled: () => new KmsError(409, "key is disabled", "key-disabled"),
  keyPendingDeletion: () => new KmsError(409, "key is pending deletion", "key-pending-deletion"),
  invalidKeyState: (message: string) => new KmsError(409, message, "invalid-key-state"),
  invalidKeyUsage: (message: string) => new KmsError(400, message, "invalid-key-usage"),
  incorrectKey: () => new KmsError(400, "the ciphertext was made with another key than the one named", "incorrect-key"),
  invalidMac: () => new KmsError(400, "the MAC does not verify", "invalid-mac"),
  aliasExists: () => new KmsError(409, "alias already exists", "alias-exists"),
  aliasNotFound: () => new KmsError(404, "alias does not exist"),
  accessKeyExists: () => new KmsError(409, "access key already exists"),
  accessKeyNotFound: () => new KmsError(404, "access key does not exist"),
  unsupported: (message: string) => new KmsError(400, message, "unsupported"),
  invalidMarker: () => new KmsError(400, "invalid marker", "invalid-marker"),
  invalidTag: (message: string) => new KmsError(400, message, "tag"),
} as const;
