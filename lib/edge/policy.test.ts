import { test } from "node:test";
import assert from "node:assert/strict";
import { EdgeAccess, pathMatches, policyAllowsPath } from "./policy.ts";

test("patterns: exact paths, and prefixes ending in '*'", () => {
  assert.ok(pathMatches("/v1/key/generate/minio-*", "/v1/key/generate/minio-key"));
  assert.ok(pathMatches("/v1/key/generate/minio-*", "/v1/key/generate/minio-"));
  assert.ok(!pathMatches("/v1/key/generate/minio-*", "/v1/key/generate/other"));
  assert.ok(pathMatches("/v1/status", "/v1/status"));
  assert.ok(!pathMatches("/v1/status", "/v1/status/x"));
  assert.ok(pathMatches("/v1/key/*", "/v1/key/delete/k"));
});

test("deny wins over allow; nothing matching means no", () => {
  const p = { allow: ["/v1/key/*"], deny: ["/v1/key/delete/*"], identities: [] };
  assert.ok(policyAllowsPath(p, "/v1/key/create/a"));
  assert.ok(!policyAllowsPath(p, "/v1/key/delete/a"));
  assert.ok(!policyAllowsPath(p, "/v1/status"));
});

test("the admin bypasses policies; identities without a policy are unknown", () => {
  const a = new EdgeAccess("h1:admin", new Map([["minio", { allow: ["/v1/key/generate/*"], deny: [], identities: ["h1:minio"] }]]));
  assert.ok(a.allows("h1:admin", "/v1/anything"));
  assert.ok(a.allows("h1:minio", "/v1/key/generate/k"));
  assert.ok(!a.allows("h1:minio", "/v1/key/create/k"));
  assert.ok(!a.allows("h1:stranger", "/v1/key/generate/k"));
  assert.ok(!a.allows(undefined, "/v1/key/generate/k"));
  assert.ok(a.isKnown("h1:minio") && a.isKnown("h1:admin") && !a.isKnown("h1:x") && !a.isKnown(undefined));
  assert.equal(a.policyName("h1:minio"), "minio");
});
