/**
 * /v1/health/ready answers for reads, /v1/health/ready?write for writes: with
 * a member down, every live node still serves reads (200) but no write would
 * be taken (503); once the member is back, writes are ready again.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster, until } from "../helpers/cluster.ts";
import { cleanup } from "../helpers/kms.ts";

let cluster: Cluster;

describe("cluster health", () => {
  before(async () => {
    cluster = await startCluster({ size: 3 });
  });
  after(cleanup);

  it("every node is ready for reads and writes when all are up", async () => {
    await until(async () => {
      for (const i of [0, 1, 2]) {
        if (await cluster.ready(i) !== 200) return `node ${i} not ready for reads`;
        if (await cluster.ready(i, true) !== 200) return `node ${i} not ready for writes`;
      }
      return true;
    }, "all nodes ready");
  });

  it("with a node down, the others serve reads but are not ready for writes", async () => {
    await cluster.kill9(2);
    await until(async () => (await cluster.ready(0, true)) === 503 && (await cluster.ready(1, true)) === 503 || "still claims write readiness", "write readiness drops");
    assert.equal(await cluster.ready(0), 200);
    assert.equal(await cluster.ready(1), 200);
  });

  it("with the node back, writes are ready again", async () => {
    await cluster.restart(2);
    await until(async () => {
      for (const i of [0, 1, 2]) if (await cluster.ready(i, true) !== 200) return `node ${i} not ready for writes`;
      return true;
    }, "write readiness returns", 30_000);
  });
});
