import { test } from "node:test";
import assert from "node:assert/strict";
import { fromTimestamp } from "../../wire/proto.ts";
import { ADMIN, withKms } from "../../../tests/support/app.ts";

type EnclaveStatus = { name: string; created_at: unknown; created_by: string };

test("ENCLAVE:CREATE (101) replies with an empty frame; the enclave is durable and ENCLAVE:STATUS (103) shows it", async () => {
  await withKms(async (kms) => {
    const before = Date.now();
    assert.deepEqual(await kms.call("", 101, { name: "e1" }), {});
    const after = Date.now();
    assert.ok(kms.node.state.enclaves.has("e1"));
    await kms.assertDurable();
    const s = (await kms.call("", 103, { name: "e1" })) as EnclaveStatus;
    assert.equal(s.name, "e1");
    assert.equal(s.created_by, ADMIN);
    const at = fromTimestamp(s.created_at);
    assert.ok(at >= before && at <= after, `created_at ${at} within [${before}, ${after}]`);
  });
});

test("ENCLAVE:CREATE of an existing enclave: 409; ENCLAVE:STATUS and DELETE of a missing one: 404", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.fail(409, "enclave already exists", "", 101, { name: "e1" });
    await kms.fail(404, "enclave does not exist", "", 103, { name: "e2" });
    await kms.fail(404, "enclave does not exist", "", 102, { name: "e2" });
    await kms.fail(404, "enclave does not exist", "", 103, { name: "E1" });
  });
});

test("ENCLAVE:DELETE (102) removes the enclave and its keys, on disk too; a new enclave of that name is empty", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("", 101, { name: "e2" });
    await kms.call("e1", 201, { name: "k1" });
    await kms.call("e1", 201, { name: "k2" });
    await kms.call("e2", 201, { name: "k1" });
    assert.deepEqual(await kms.call("", 102, { name: "e1" }), {});
    await kms.fail(404, "enclave does not exist", "", 103, { name: "e1" });
    await kms.fail(404, "enclave does not exist", "e1", 204, { name: "k1" });
    await kms.assertDurable();
    const keys = [...(await kms.store.load()).keys()];
    assert.deepEqual(keys.filter((k) => k.split("/")[1] === "e1"), [], "no record of e1 or its keys is left");
    // The other enclave is untouched.
    assert.equal((await kms.call("e2", 204, { name: "k1" })).name, "k1");
    // Re-created, the enclave starts empty.
    await kms.call("", 101, { name: "e1" });
    await kms.fail(404, "key does not exist", "e1", 204, { name: "k1" });
    assert.deepEqual((await kms.call("e1", 208, {})).keys, []);
  });
});

test("ENCLAVE:LIST (104): sorted, prefix, limit and continue_at; a full walk sees each enclave once", async () => {
  await withKms(async (kms) => {
    const names = ["tenant-b", "alpha", "tenant-a", "zeta", "tenant-c", "beta", "tenant-aa"];
    for (const name of names) await kms.call("", 101, { name });
    const list = async (req: Record<string, unknown>) => {
      const r = await kms.call("", 104, req);
      return { names: (r.enclaves as EnclaveStatus[]).map((e) => e.name), continueAt: r.continue_at as string, enclaves: r.enclaves as EnclaveStatus[] };
    };
    const all = await list({});
    assert.deepEqual(all.names, [...names].sort());
    assert.equal(all.continueAt, "");
    for (const e of all.enclaves) assert.equal(e.created_by, ADMIN);
    assert.deepEqual((await list({ prefix: "tenant-" })).names, ["tenant-a", "tenant-aa", "tenant-b", "tenant-c"]);
    assert.deepEqual((await list({ prefix: "nope" })).names, []);

    const p1 = await list({ prefix: "tenant-", limit: 3 });
    assert.deepEqual(p1.names, ["tenant-a", "tenant-aa", "tenant-b"]);
    assert.equal(p1.continueAt, "tenant-c");
    const p2 = await list({ prefix: "tenant-", limit: 3, continue_at: p1.continueAt });
    assert.deepEqual(p2.names, ["tenant-c"]);
    assert.equal(p2.continueAt, "");

    for (const limit of [1, 2, 6, 7]) {
      const seen: string[] = [];
      let at = "";
      let pages = 0;
      do {
        const p = await list({ limit, continue_at: at });
        assert.ok(p.names.length <= limit);
        seen.push(...p.names);
        at = p.continueAt;
        assert.ok(++pages <= names.length + 1, "the walk must end");
      } while (at !== "");
      assert.deepEqual(seen, [...names].sort(), `limit ${limit}`);
    }
  });
});

test("ENCLAVE:LIST of no enclaves is one empty page; a deleted enclave is no longer listed", async () => {
  await withKms(async (kms) => {
    assert.deepEqual(await kms.call("", 104, {}), { enclaves: [], continue_at: "" });
    await kms.call("", 101, { name: "a" });
    await kms.call("", 101, { name: "b" });
    await kms.call("", 102, { name: "a" });
    const r = await kms.call("", 104, {});
    assert.deepEqual((r.enclaves as EnclaveStatus[]).map((e) => e.name), ["b"]);
  });
});
