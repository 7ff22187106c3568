import { test } from "node:test";
import assert from "node:assert/strict";
import { ERROR_KINDS, Errors, KmsError } from "../state/errors.ts";
import { kindOfStatus, statusOf } from "./errors.ts";

test("every error kind has a native status, and a bare status maps back to a kind of that status", () => {
  for (const kind of ERROR_KINDS) {
    const status = statusOf(new KmsError(kind, "x"));
    assert.ok(status >= 400 && status < 600, `${kind}: ${status}`);
    assert.equal(statusOf(new KmsError(kindOfStatus(status), "x")), status, kind);
  }
  assert.equal(statusOf(Errors.outcomeUnknown("outcome unknown")), 504);
  assert.equal(statusOf(Errors.tooLarge("too large")), 413);
  assert.equal(statusOf(new Error("not ours")), 500);
});
