import { test } from "node:test";
import assert from "node:assert/strict";
import { fromTimestamp } from "../../wire/proto.ts";
import { withKms } from "../../../tests/support/app.ts";

type Status = Record<string, unknown> & { nodes: Record<string, string>; uptime: unknown };

test("CLUSTER:STATUS (3): this node leads a one-node cluster; nothing is down", async () => {
  await withKms(async (kms) => {
    const reply = await kms.call("", 3, {});
    assert.deepEqual(reply.nodes_down, {});
    const up = reply.nodes_up as Record<string, Status>;
    assert.deepEqual(Object.keys(up), ["0"]);
    const s = up[0];
    assert.equal(s.version, "test");
    assert.equal(s.api_version, "v1");
    assert.equal(s.host, "h:1");
    assert.equal(s.role, "Leader");
    assert.equal(s.node_id, 0);
    assert.equal(s.leader_id, 0);
    assert.deepEqual(s.nodes, { 0: "h:1" });
    assert.equal(s.commit, 0);
    const uptime = fromTimestamp(s.uptime);
    assert.ok(uptime >= 0 && uptime < 60_000, `uptime ${uptime} ms`);
    assert.ok((s.sys_cpu_num as number) >= 1);
    assert.ok(Array.isArray(s.hsm) && (s.hsm as string[]).length >= 1);
  });
});

test("CLUSTER:STATUS reports the commit counter: one per successful write, none for failures or reads", async () => {
  await withKms(async (kms) => {
    const commit = async () => ((await kms.call("", 3, {})).nodes_up as Record<string, Status>)[0].commit;
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k" });
    await kms.call("e1", 201, { name: "k", add_version: true });
    await kms.call("e1", 207, { name: "k" });
    await kms.fail(409, "enclave already exists", "", 101, { name: "e1" });
    assert.equal(await commit(), 3);
    assert.equal(kms.node.state.commit, 3);
    await kms.call("", 102, { name: "e1" });
    assert.equal(await commit(), 4);
    await kms.assertDurable();
  });
});
