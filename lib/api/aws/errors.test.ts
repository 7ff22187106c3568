import { test } from "node:test";
import assert from "node:assert/strict";
import { ERROR_KINDS, Errors, KmsError } from "../../state/errors.ts";
import { toAwsError } from "./errors.ts";

// AWS's statuses, written from ../shared/reference/aws-kms-api.md apart from errors.ts's table.
const AWS_STATUS: Record<string, number> = {
  NotFoundException: 404, InvalidCiphertextException: 400, InvalidKeyUsageException: 400, IncorrectKeyException: 400,
  LimitExceededException: 400, UnsupportedOperationException: 400, KMSInvalidMacException: 400, InvalidMarkerException: 400,
  TagException: 400, DisabledException: 409, KMSInvalidStateException: 409, AlreadyExistsException: 409, ConflictException: 409,
  KMSInternalException: 500, KeyUnavailableException: 500, DependencyTimeoutException: 503, AccessDeniedException: 400,
  ValidationException: 400,
};

test("every kind of kms error has an AWS error name of the model, with AWS's status for it", () => {
  for (const kind of ERROR_KINDS) {
    const e = toAwsError(new KmsError(kind, "m"));
    assert.ok(e.type in AWS_STATUS, `${kind} → ${e.type}`);
    assert.equal(e.status, AWS_STATUS[e.type], `${kind} → ${e.type}`);
    assert.equal(e.message, "m");
  }
});

test("kms's errors become AWS's by kind, whatever their message says", () => {
  const cases: Array<[KmsError, string]> = [
    [Errors.keyDisabled(), "DisabledException"],
    [Errors.keyPendingDeletion(), "KMSInvalidStateException"],
    [Errors.invalidKeyState("not pending deletion"), "KMSInvalidStateException"],
    [Errors.keyExists(), "AlreadyExistsException"],
    [Errors.aliasExists(), "AlreadyExistsException"],
    [Errors.tooManyVersions(1000), "LimitExceededException"],
    [Errors.invalidCiphertext(), "InvalidCiphertextException"],
    [Errors.incorrectKey(), "IncorrectKeyException"],
    [Errors.invalidMac(), "KMSInvalidMacException"],
    [Errors.accessDenied(), "AccessDeniedException"],
    [Errors.keyNotFound(), "NotFoundException"],
    [Errors.unsupportedOperation("no"), "UnsupportedOperationException"],
    [Errors.badRequest("key is disabled"), "ValidationException"], // the message does not decide
  ];
  for (const [err, name] of cases) assert.equal(toAwsError(err).type, name, err.message);
  assert.deepEqual({ ...toAwsError(new Error("secret detail")) }, { ...toAwsError(Errors.internal()) });
  assert.equal(toAwsError(new Error("secret detail")).message, "internal server error");
});
