/** KEY:DERIVE (1201): keys for a service, bound to the key's name and version, and a permission apart from KEY:MAC. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { apply } from "../../state/apply.ts";
import { ADMIN, type TestKms, withKms } from "../../../tests/support/app.ts";

const te = new TextEncoder();
const hex = (b: unknown) => Buffer.from(b as Uint8Array).toString("hex");
const MAC_ONLY = "h1:" + "M".repeat(43);
const DERIVER = "h1:" + "D".repeat(43);
const SAME_BYTES = new Uint8Array(32).fill(9);

async function withKey(fn: (kms: TestKms) => Promise<void>): Promise<void> {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 203, { name: "k", key: SAME_BYTES });
    const stamp = { at: 1, by: ADMIN };
    apply(kms.node.state, { type: "policy.create", enclave: "e1", name: "mac", allow: { "KEY:MAC": ["*"], "KEY:STATUS": ["*"] }, deny: {}, ...stamp });
    apply(kms.node.state, { type: "policy.create", enclave: "e1", name: "derive", allow: { "KEY:DERIVE": ["k"] }, deny: {}, ...stamp });
    for (const [identity, policy] of [[MAC_ONLY, "mac"], [DERIVER, "derive"]]) {
      apply(kms.node.state, { type: "identity.create", enclave: "e1", identity, privilege: "User", policy, serviceAccount: false, tags: {}, ...stamp });
    }
    await fn(kms);
  });
}

test("KEY:DERIVE is deterministic per key, version and context; 32 bytes by default, up to 64", async () => {
  await withKey(async (kms) => {
    const a = await kms.call("e1", 1201, { name: "k", context: te.encode("c") });
    assert.equal(a.version, 1);
    assert.equal((a.key as Uint8Array).length, 32);
    assert.equal(hex((await kms.call("e1", 1201, { name: "k", context: te.encode("c") })).key), hex(a.key));
    assert.notEqual(hex((await kms.call("e1", 1201, { name: "k", context: te.encode("d") })).key), hex(a.key));
    const long = await kms.call("e1", 1201, { name: "k", context: te.encode("c"), length: 64 });
    assert.equal((long.key as Uint8Array).length, 64);
    // A new version derives other bytes; version 1 stays what it was.
    await kms.call("e1", 201, { name: "k", add_version: true });
    const latest = await kms.call("e1", 1201, { name: "k", context: te.encode("c") });
    assert.equal(latest.version, 2);
    assert.notEqual(hex(latest.key), hex(a.key));
    assert.equal(hex((await kms.call("e1", 1201, { name: "k", version: 1, context: te.encode("c") })).key), hex(a.key));
    for (const length of [1, 15, 65, 1024]) {
      await kms.fail(400, "invalid request: invalid length: 16 to 64 bytes", "e1", 1201, { name: "k", length });
    }
    await kms.fail(404, "key does not exist", "e1", 1201, { name: "k", version: 9 });
    await kms.fail(404, "key does not exist", "e1", 1201, { name: "nope" });
  });
});

test("KEY:DERIVE is bound to the key's enclave and name: the same bytes elsewhere derive other keys", async () => {
  await withKey(async (kms) => {
    await kms.call("e1", 203, { name: "k2", key: SAME_BYTES });
    await kms.call("", 101, { name: "e2" });
    await kms.call("e2", 203, { name: "k", key: SAME_BYTES });
    const ctx = te.encode("c");
    const here = hex((await kms.call("e1", 1201, { name: "k", context: ctx })).key);
    assert.notEqual(hex((await kms.call("e1", 1201, { name: "k2", context: ctx })).key), here);
    assert.notEqual(hex((await kms.call("e2", 1201, { name: "k", context: ctx })).key), here);
  });
});

test("an identity allowed only KEY:MAC cannot derive, and no MAC it can ask for equals a derived key", async () => {
  await withKey(async (kms) => {
    const ctx = te.encode("kms/edge/v2/master-and-hmac-key");
    await kms.fail(403, "access denied: insufficient permissions", "e1", 1201, { name: "k", context: ctx }, { identity: MAC_ONLY });
    const derived = hex((await kms.call("e1", 1201, { name: "k", context: ctx, length: 64 }, { identity: DERIVER })).key);
    for (const message of [ctx, te.encode("kms/edge/v1/master-key"), te.encode("kms/v1/derive:"), new Uint8Array(0)]) {
      const mac = hex((await kms.call("e1", 210, { name: "k", message }, { identity: MAC_ONLY })).mac);
      assert.ok(!derived.includes(mac), "a MAC reproduces part of the derived key");
    }
    // The deriver may derive from k only, and may not MAC.
    await kms.call("e1", 203, { name: "other", key: SAME_BYTES });
    await kms.fail(403, "access denied: insufficient permissions", "e1", 1201, { name: "other", context: ctx }, { identity: DERIVER });
    await kms.fail(403, "access denied: insufficient permissions", "e1", 210, { name: "k", message: ctx }, { identity: DERIVER });
  });
});
