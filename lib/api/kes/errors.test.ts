import { test } from "node:test";
import assert from "node:assert/strict";
import { Errors, KmsError } from "../../state/errors.ts";
import { toKesError } from "./errors.ts";

test("KES errors are mapped by kind, never by message text", () => {
  assert.deepEqual(toKesError(Errors.keyExists()), { status: 400, message: "key already exists" });
  assert.deepEqual(toKesError(Errors.invalidCiphertext()), { status: 400, message: "decryption failed: ciphertext is not authentic" });
  assert.deepEqual(toKesError(Errors.accessDenied()), { status: 403, message: "not authorized: insufficient permissions" });
  assert.deepEqual(toKesError(Errors.refused("refused: a replay")), { status: 403, message: "not authorized: insufficient permissions" });
  // The same words under another kind are that kind's answer.
  assert.deepEqual(toKesError(new KmsError("conflict", "key already exists")), { status: 409, message: "key already exists" });
  assert.deepEqual(toKesError(Errors.keyNotFound()), { status: 404, message: "key does not exist" });
  assert.deepEqual(toKesError(Errors.keyStoreUnreachable()), { status: 502, message: "key store is not reachable" });
  assert.deepEqual(toKesError(new Error("secret detail")), { status: 500, message: "internal server error" });
});
