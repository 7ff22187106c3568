/**
 * What an operator sees of a cluster (issue 18): every node logs cluster
 * events with RFC 3339 timestamps (joins, the leader, a peer going down and
 * coming back, a node leaving); `kms ls` says whether writes are possible;
 * and adding back a removed node that was not wiped says to wipe it.
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { type Cluster, reportingSteps, startCluster, until } from "../helpers/cluster.ts";
import { cleanup, type RunResult } from "../helpers/kms.ts";


const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let cluster: Cluster;

/** Waits until node i has logged a cluster event matching `event`: a JSON line with an RFC 3339 time. */
function logged(i: number, event: string, what: string): Promise<void> {
  const re = new RegExp(`^cluster: ${event}$`);
  const seen = () => cluster.logs(i, 200_000).split("\n").some((line) => {
    if (!line.startsWith("{")) return false;
    const r = JSON.parse(line) as { time: string; level: string; msg: string };
    return re.test(r.msg) && r.level === "INFO" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.time);
  });
  return until(() => seen() || `node ${i} has not logged: ${event}`, what, 30_000);
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

describe("cluster events and `kms ls` as an operator sees them", () => {
  const { step, failed } = reportingSteps();
  before(async () => {
    cluster = await startCluster({ size: 3 });
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });

  step("every node logs the joins and the leader, with timestamps", async () => {
    const adv = (i: number) => esc(cluster.peerAddress(i));
    await logged(0, `node 1 \\(${adv(1)}\\) joined the cluster`, "node 0 logs node 1's join");
    await logged(0, `node 2 \\(${adv(2)}\\) joined the cluster`, "node 0 logs node 2's join");
    await logged(1, `this is node 1 of a 2-node cluster \\(.*\\); the leader is node 0 \\(${adv(0)}\\)`, "node 1 logs where it stands");
    await logged(2, `this is node 2 of a 3-node cluster \\(.*\\); the leader is node 0 \\(${adv(0)}\\)`, "node 2 logs where it stands");
    await logged(1, `node 2 \\(${adv(2)}\\) joined the cluster`, "node 1 logs node 2's join");
  });

  step("`kms ls` says writes are possible", async () => {
    assert.match(ok(await cluster.cli(["ls"]), "kms ls"), /^Writes: possible \(every node is up\)$/m);
    assert.equal(JSON.parse(ok(await cluster.cli(["ls", "--json"]), "kms ls --json")).writable, true);
  });

  step("the leader logs a peer going down and coming back; `kms ls` says writes are unavailable meanwhile", async () => {
    const leader = await cluster.leader();
    assert.equal(leader, 0, "node 0 leads");
    await cluster.kill9(2);
    await logged(0, `node 2 \\(${esc(cluster.peerAddress(2))}\\) is down \\(no reply\\): writes fail until it is back or removed`, "node 0 logs node 2 down");
    const ls = ok(await cluster.cli(["ls"]), "kms ls with node 2 down");
    assert.match(ls, /^2\s+\S+\s+-\s+-\s+down$/m);
    assert.match(ls, /^Writes: unavailable: node 2 is down \(writes need every node; reads and crypto still work\)$/m);
    assert.equal(JSON.parse(ok(await cluster.cli(["ls", "--json"]), "kms ls --json")).writable, false);
    await cluster.restart(2);
    await logged(0, `node 2 \\(${esc(cluster.peerAddress(2))}\\) is up again`, "node 0 logs node 2 back");
    await cluster.waitConverged();
  });

  step("removing a node is logged by the others; adding it back unwiped says to wipe it", async () => {
    const host = cluster.peerAddress(2);
    ok(await cluster.cli(["rm", "--force", host]), "kms rm --force");
    cluster.members.delete(2);
    await logged(0, `node 2 \\(${esc(host)}\\) left the cluster`, "node 0 logs the removal");
    await logged(1, `node 2 \\(${esc(host)}\\) left the cluster`, "node 1 logs the removal");
    // Issue 18, bug 6: this said "already a member" while `kms ls` did not list it.
    const again = await cluster.cli(["add", host]);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /^kms: cannot add .*: it was a member of this cluster before and still holds its old state \(its data directory was not wiped\): stop it, empty its data directory, start it again/m);
    assert.doesNotMatch(again.stderr, /already a member/);
    assert.doesNotMatch(ok(await cluster.cli(["ls"]), "kms ls"), new RegExp(esc(host)));
  });
});
