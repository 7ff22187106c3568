import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authorize, type Caller, listable, matches, policyAllows } from "./policy.ts";
import type { PolicyRecord } from "./types.ts";

const policy = (allow: Record<string, string[]>, deny: Record<string, string[]> = {}): PolicyRecord =>
  ({ enclave: "a", name: "p", allow, deny, createdAt: 0, createdBy: "x" });

describe("matches", () => {
  const table: Array<[string, string, boolean]> = [
    ["*", "anything", true],
    ["*", "", true],
    ["key-1", "key-1", true],
    ["key-1", "key-10", false],
    ["minio-*", "minio-", true],
    ["minio-*", "minio-key", true],
    ["minio-*", "mini", false],
    ["minio-*", "xminio-key", false],
    ["*-key", "minio-key", true],
    ["*-key", "minio-keys", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "acb", false],
    ["ab*ba", "aba", false], // prefix and suffix must not overlap
    ["ab*ba", "abba", true],
  ];
  for (const [pattern, name, want] of table) {
    it(`${pattern} vs ${JSON.stringify(name)} → ${want}`, () => assert.equal(matches(pattern, name), want));
  }
});

describe("policyAllows", () => {
  const p = policy({ "KEY:GENERATE": ["minio-*", "shared"], "KEY:DECRYPT": ["*"] }, { "KEY:DECRYPT": ["minio-secret*"] });
  const table: Array<[string, string, boolean]> = [
    ["KEY:GENERATE", "minio-1", true],
    ["KEY:GENERATE", "shared", true],
    ["KEY:GENERATE", "other", false], // no matching allow
    ["KEY:DECRYPT", "other", true],
    ["KEY:DECRYPT", "minio-secret-1", false], // deny wins over allow
    ["KEY:DELETE", "minio-1", false], // command not mentioned
  ];
  for (const [cmd, name, want] of table) it(`${cmd} ${name} → ${want}`, () => assert.equal(policyAllows(p, cmd, name), want));
  it("no policy allows nothing", () => assert.equal(policyAllows(undefined, "KEY:GENERATE", "minio-1"), false));
});

describe("authorize", () => {
  const sys: Caller = { identity: "s", privilege: "SysAdmin" };
  const admin: Caller = { identity: "a", privilege: "Admin", enclave: "a" };
  const user: Caller = { identity: "u", privilege: "User", enclave: "a", policy: policy({ "KEY:GENERATE": ["minio-*"], "KEY:LIST": ["minio-*"] }) };
  const bare: Caller = { identity: "b", privilege: "User", enclave: "a" };
  const table: Array<[string, Caller | undefined, string, string, string | undefined, boolean]> = [
    ["unknown caller", undefined, "KEY:GENERATE", "a", "k", false],
    ["sysadmin, cluster", sys, "CLUSTER:STATUS", "", undefined, true],
    ["sysadmin, any enclave", sys, "KEY:DELETE", "b", "k", true],
    ["admin, own enclave", admin, "KEY:DELETE", "a", "k", true],
    ["admin, other enclave", admin, "KEY:STATUS", "b", "k", false],
    ["admin, enclave command", admin, "ENCLAVE:CREATE", "", undefined, false],
    ["admin, cluster command", admin, "CLUSTER:STATUS", "", undefined, false],
    ["user, allowed", user, "KEY:GENERATE", "a", "minio-1", true],
    ["user, pattern miss", user, "KEY:GENERATE", "a", "other", false],
    ["user, other enclave", user, "KEY:GENERATE", "b", "minio-1", false],
    ["user, command miss", user, "KEY:DECRYPT", "a", "minio-1", false],
    ["user, listing with an allow rule", user, "KEY:LIST", "a", undefined, true],
    ["user, listing without one", user, "IDENTITY:LIST", "a", undefined, false],
    ["user without policy", bare, "KEY:GENERATE", "a", "minio-1", false],
  ];
  for (const [label, caller, cmd, enclave, name, want] of table) {
    it(`${label} → ${want}`, () => assert.equal(authorize(caller, cmd, enclave, name), want));
  }
  it("listings show a user only what its policy lists", () => {
    assert.equal(listable(user, "KEY:LIST", "minio-1"), true);
    assert.equal(listable(user, "KEY:LIST", "other"), false);
    assert.equal(listable(admin, "KEY:LIST", "other"), true);
  });
});
