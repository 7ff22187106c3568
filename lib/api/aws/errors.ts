/**
 * AWS KMS's error replies, and the one place kms's errors map to them:
 * `{"__type": NAME, "message": …}` with AWS's status for NAME, the name
 * mirrored in X-Amzn-ErrorType (boto3 reads the body, the JS SDK either).
 * Errors are told apart by their kind, never by message text.
 */
import { type ErrorKind, KmsError } from "../../state/errors.ts";

/** AWS's status for each error name kms answers with (../shared/reference/aws-kms-api.md). */
const STATUS: Readonly<Record<string, number>> = {
  NotFoundException: 404,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  IncorrectKeyException: 400,
  LimitExceededException: 400,
  UnsupportedOperationException: 400,
  KMSInvalidMacException: 400,
  InvalidArnException: 400,
  InvalidMarkerException: 400,
  TagException: 400,
  AccessDeniedException: 400,
  ValidationException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  MissingAuthenticationTokenException: 400,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  UnrecognizedClientException: 400,
  DisabledException: 409,
  KMSInvalidStateException: 409,
  AlreadyExistsException: 409,
  ConflictException: 409,
  KMSInternalException: 500,
  KeyUnavailableException: 500,
  DependencyTimeoutException: 503,
};

/** An error in AWS's terms. */
export class AwsError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
    this.status = STATUS[type] ?? 400;
  }
}

/** Shorthands for the errors the API raises itself (the rest come from kms's Errors). */
export const Aws = {
  validation: (message: string) => new AwsError("ValidationException", message),
  notFound: (message: string) => new AwsError("NotFoundException", message),
  invalidArn: (message: string) => new AwsError("InvalidArnException", message),
  accessDenied: (message = "access denied: insufficient permissions") => new AwsError("AccessDeniedException", message),
} as const;

/** AWS's name for each kind of kms error: the one place kinds become AWS errors. */
const BY_KIND: Readonly<Record<ErrorKind, string>> = {
  "denied": "AccessDeniedException",
  "not-found": "NotFoundException",
  "exists": "AlreadyExistsException",
  "key-exists": "AlreadyExistsException",
  "conflict": "ConflictException",
  "invalid": "ValidationException",
  "invalid-ciphertext": "InvalidCiphertextException",
  "too-large": "ValidationException",
  "unavailable": "DependencyTimeoutException",
  "outcome-unknown": "KMSInternalException",
  "upstream": "KeyUnavailableException",
  "internal": "KMSInternalException",
  "key-disabled": "DisabledException",
  "key-pending-deletion": "KMSInvalidStateException",
  "invalid-key-state": "KMSInvalidStateException",
  "invalid-key-usage": "InvalidKeyUsageException",
  "incorrect-key": "IncorrectKeyException",
  "invalid-mac": "KMSInvalidMacException",
  "limit-exceeded": "LimitExceededException",
  "unsupported-operation": "UnsupportedOperationException",
  "switched-off": "UnsupportedOperationException",
  "invalid-marker": "InvalidMarkerException",
  "invalid-tag": "TagException",
};

/** Any error as AWS's: kms errors by kind; anything else an internal error that says nothing more. */
export function toAwsError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  if (err instanceof KmsError) return new AwsError(BY_KIND[err.kind], err.message);
  return new AwsError("KMSInternalException", "internal server error");
}

/** The reply for an AWS error. */
export function awsErrorReply(err: AwsError, requestId: string): Response {
  const body = JSON.stringify({ __type: err.type, message: err.message });
  return new Response(body, {
    status: err.status,
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "content-length": String(new TextEncoder().encode(body).length),
      "x-amzn-requestid": requestId,
      "x-amzn-errortype": err.type,
      date: new Date().toUTCString(),
    },
  });
}
