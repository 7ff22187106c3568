/**
 * Rollback of a data directory. Someone with a copy of an older data directory
 * and no HSM key puts single rows of it back — an identity that was deleted,
 * a key ring from before a version was deleted, the raft hard state (term and
 * vote) — into the current database: the server refuses to start, says why,
 * and changes no row. A cluster member whose whole directory was rolled back
 * (consistent, only older) learns from its peers that it lost entries it had
 * acknowledged, and serves no read from its older state until it has caught
 * up. (What can and cannot be caught: docs/security.md.)
 */
import assert from "node:assert/strict";
import { cpSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { KmsClientError } from "../../lib/client/client.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { type Cluster, startCluster, until } from "../helpers/cluster.ts";
import { contents, type OpenedRow, openedRows, refusedStart, tamper } from "../helpers/data-dir.ts";
import { redactedOutput, stopWithin } from "../helpers/e2e.ts";
import { cleanup, startServer, tempDir } from "../helpers/kms.ts";

const IDENTITY = "h1:" + "B".repeat(43);
const DIGEST_REFUSAL = /does not match its sealed digest: records were rolled back, removed or added/;

describe("single rows of an older copy put back into a data directory", () => {
  let dir: string, old: string, hsmKey: string;
  let now: OpenedRow[], then: OpenedRow[];
  const row = (rows: OpenedRow[], key: string) => rows.find((r) => r.key === key);

  before(async () => {
    const base = tempDir("kms-rollback-");
    dir = path.join(base, "data");
    old = path.join(base, "old");
    hsmKey = SoftHsm.generate();
    const first = await startServer({ dir, hsmKey });
    const c = first.client();
    await c.createEnclave("tenant");
    await c.createKey("tenant", "key");
    await c.createKey("tenant", "key", "", true);
    await c.createIdentity("tenant", IDENTITY, "User");
    assert.equal(await stopWithin(first, "SIGTERM", 10_000), 0, redactedOutput(first));
    cpSync(dir, old, { recursive: true }); // the older copy (a backup, a snapshot of the volume)

    const second = await startServer({ dir, hsmKey });
    const c2 = second.client();
    await c2.deleteIdentity("tenant", IDENTITY);
    await c2.deleteKey("tenant", "key", 1);
    assert.equal(await stopWithin(second, "SIGTERM", 10_000), 0, redactedOutput(second));
    [now, then] = [await openedRows(dir, hsmKey), await openedRows(old, hsmKey)];
  });
  after(cleanup);

  const insert = (r: OpenedRow) => ({ sql: "INSERT INTO records (id, value) VALUES (?, ?)", args: [r.id, r.value] });
  const remove = (r: OpenedRow) => ({ sql: "DELETE FROM records WHERE id = ?", args: [r.id] });
  const set = (r: OpenedRow) => ({ sql: "UPDATE records SET value = ? WHERE id = ?", args: [r.value, r.id] });

  const cases: Array<[string, () => Array<ReturnType<typeof set>>, () => Array<ReturnType<typeof set>>]> = [
    ["the deleted identity re-inserted", () => [insert(row(then, `i/tenant/${IDENTITY}`)!)], () => [remove(row(then, `i/tenant/${IDENTITY}`)!)]],
    ["the key ring rolled back to before its version 1 was deleted", () => [set(row(then, "k/tenant/key")!)], () => [set(row(now, "k/tenant/key")!)]],
    ["the raft hard state (term, vote) rolled back", () => [set(row(then, "r/hard")!)], () => [set(row(now, "r/hard")!)]],
    ["the enclave's row deleted", () => [remove(row(now, "e/tenant")!)], () => [insert(row(now, "e/tenant")!)]],
  ];
  for (const [what, apply, undo] of cases) {
    it(`${what}: refused at start with a clear message, no row changed`, async () => {
      assert.ok(row(now, `i/tenant/${IDENTITY}`) === undefined && row(then, `i/tenant/${IDENTITY}`), "the identity was deleted in between");
      assert.notDeepEqual(row(then, "r/hard")!.plain, row(now, "r/hard")!.plain, "the hard state moved on in between");
      tamper(dir, apply());
      try {
        const before = contents(dir);
        const r = await refusedStart(dir, hsmKey);
        assert.match(r.stderr, DIGEST_REFUSAL);
        assert.ok(!r.stderr.includes("tenant") && !r.stderr.includes(IDENTITY), "the message names no record");
        assert.deepEqual(contents(dir), before, "the sealed root key and every row are as they were");
      } finally {
        tamper(dir, undo());
      }
    });
  }

  it("put back as it was, the directory starts with the later state", async () => {
    const server = await startServer({ dir, hsmKey });
    const c = server.client();
    assert.equal((await c.keyStatus("tenant", "key")).version, 2);
    await assert.rejects(c.identityStatus("tenant", IDENTITY), /not found|does not exist/i);
  });
});

describe("a cluster member restarted from an older copy of its whole data directory", () => {
  let c: Cluster;
  let paused: number | undefined;
  before(async () => {
    c = await startCluster({ size: 3 });
  });
  after(async () => {
    if (paused !== undefined) c.nodes[paused].server?.process.kill("SIGCONT");
    await c.close();
  });

  it("serves no read from its older state: reads wait until it has caught up with what it acknowledged", async () => {
    const admin = c.client(0);
    await admin.createEnclave("rb");
    await admin.createKey("rb", "gone");
    await c.waitConverged();
    const dir = c.nodes[2].dir, old = `${dir}-old`;
    assert.equal(await c.stop(2), 0);
    cpSync(dir, old, { recursive: true }); // a backup of node 2 that still has the key
    await c.restart(2);
    await c.waitConverged();
    await admin.deleteKey("rb", "gone", 0, true); // node 2 acknowledges the deletion, as every member must
    await c.waitConverged();
    assert.equal(await c.stop(2), 0);
    rmSync(dir, { recursive: true });
    cpSync(old, dir, { recursive: true });

    // With the leader paused node 2 cannot catch up at once: the window in which it could answer from its older state.
    paused = await c.leader([0, 1]);
    assert.ok(paused !== undefined, "a leader among nodes 0 and 1");
    c.nodes[paused].server!.process.kill("SIGSTOP");
    await c.restart(2);
    const b = c.client(2);
    const answers: string[] = [];
    await until(async () => {
      try {
        await b.keyStatus("rb", "gone");
        answers.push("the deleted key");
        return "node 2 answered with the deleted key";
      } catch (err) {
        const status = err instanceof KmsClientError ? err.status : 0;
        if (status === 404) return true;
        answers.push(String(status));
        return `status ${status}`;
      }
    }, "node 2 to catch up and answer that the key is gone", 30_000);
    assert.ok(!answers.includes("the deleted key"), `node 2 answered from its older state: ${answers.join(", ")}`);
    assert.match(c.logs(2), /older than what it acknowledged: its log ends at index \d+, but its peers have committed index \d+/);
  });
});
