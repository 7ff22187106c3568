/**
 * Errors that reach a client. Lower layers throw these; each API maps them to
 * its own wire format in one place. Messages never contain secrets.
 */
export class KmsError extends Error {
  /** HTTP status the error maps to. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "KmsError";
    this.status = status;
  }
}

/** The canonical errors of MinIO KMS's protocol: clients compare status and message exactly. */
export const Errors = {
  accessDenied: () => new KmsError(403, "access denied: insufficient permissions"),
  enclaveExists: () => new KmsError(409, "enclave already exists"),
  enclaveNotFound: () => new KmsError(404, "enclave does not exist"),
  keyExists: () => new KmsError(409, "key already exists"),
  keyNotFound: () => new KmsError(404, "key does not exist"),
  policyNotFound: () => new KmsError(404, "policy does not exist"),
  identityNotFound: () => new KmsError(404, "identity does not exist"),
  invalidCiphertext: () => new KmsError(400, "invalid ciphertext"),
  badRequest: (message: string) => new KmsError(400, message),
  tooManyVersions: (max: number) => new KmsError(409, `key has too many versions: at most ${max} (delete old versions first)`),
  tooMuchWork: () => new KmsError(400, "invalid request: too many decryption attempts in one request"),
  unavailable: (message: string) => new KmsError(503, message),
  /** The console: no live session (never signed in, expired, or ended). */
  notSignedIn: (message: string) => new KmsError(401, message),
  /** The console: a state-changing call that did not come from the console's own page. */
  crossSite: () => new KmsError(403, "cross-site request refused: use the console's own page"),
} as const;
