import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../hsm/soft.ts";
import { DAY_MS } from "../state/lifecycle.ts";
import { openStore } from "../store/store.ts";
import { dueRound } from "./due-jobs.ts";
import { lifecycleJobs } from "./lifecycle-jobs.ts";
import type { KmsNode } from "./node.ts";
import { stopTestNode, testNode } from "../../tests/support/node.ts";

const T0 = Date.UTC(2026, 0, 1);
const material = Buffer.alloc(32, 7).toString("base64");

async function withNode(fn: (node: KmsNode) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), "kms-due-"));
  const store = await openStore(join(tmp, "data"), SoftHsm.parse(SoftHsm.generate()));
  try {
    const node = await testNode(store);
    try {
      await node.write({ type: "enclave.create", name: "e", at: T0, by: "h1:admin" });
      const meta = { description: "", usage: "ENCRYPT_DECRYPT" as const, spec: "SYMMETRIC_DEFAULT" as const, tags: {} };
      for (const name of ["r", "d"]) {
        await node.write({ type: "key.create", enclave: "e", name, keyType: "AES256", material, addVersion: false, meta, at: T0, by: "h1:admin" });
      }
      await node.write({ type: "key.rotation", enclave: "e", name: "r", periodDays: 90, at: T0 });
      await node.write({ type: "key.schedule-deletion", enclave: "e", name: "d", windowDays: 7, at: T0 });
      await fn(node);
    } finally {
      await stopTestNode(node);
    }
  } finally {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

test("nothing is proposed before it is due", async () => {
  await withNode(async (node) => {
    assert.equal(await dueRound(node, [lifecycleJobs], T0 + 7 * DAY_MS - 1), 0);
    assert.equal(node.state.keyRing("e", "d").lifecycle?.state, "PendingDeletion");
    assert.equal(node.state.keyRing("e", "r").versions.length, 1);
  });
});

test("the same jobs proposed twice before either applied (a leader change) rotate and purge once", async () => {
  await withNode(async (node) => {
    const now = T0 + 90 * DAY_MS;
    // Both rounds see the state before either's writes apply, as a new leader does
    // when the old one's entries are committed but not yet applied where it looks.
    const [a, b] = await Promise.all([dueRound(node, [lifecycleJobs], now), dueRound(node, [lifecycleJobs], now + 1)]);
    assert.deepEqual([a, b], [2, 2], "both rounds proposed a rotation and a purge");
    assert.deepEqual(node.state.keyRing("e", "r").versions.map((v) => v.version), [1, 2]);
    assert.equal(node.state.enclave("e").keys.has("d"), false);
    // And the next round finds nothing due.
    assert.equal(await dueRound(node, [lifecycleJobs], now + 2), 0);
  });
});
