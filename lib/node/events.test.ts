import assert from "node:assert/strict";
import { test } from "node:test";
import { type ClusterView, clusterEvents, watchCluster } from "./events.ts";

const m = (...ids: number[]) => ids.map((id) => ({ id, addr: `10.0.0.${id}:7373` }));
const peer = (id: number, active: boolean) => ({ id, match: 0, next: 1, state: "replicate" as const, active, voter: true });
const view = (v: Partial<ClusterView>): ClusterView => ({ id: 0, role: "leader", term: 1, leader: 0, members: m(0), peers: [], ...v });

test("a lone node logs nothing; a node of a cluster says where it stands", () => {
  assert.deepEqual(clusterEvents(undefined, view({})), []);
  assert.deepEqual(clusterEvents(view({ leader: -1, role: "candidate" }), view({})), [], "a lone node winning its own election is no news");
  assert.deepEqual(clusterEvents(undefined, view({ id: 1, role: "follower", members: m(0, 1) })),
    ["this is node 1 of a 2-node cluster (0=10.0.0.0:7373, 1=10.0.0.1:7373); the leader is node 0 (10.0.0.0:7373)"]);
  // A node that joined another cluster: new id, members arriving with the snapshot, itself last.
  const joining = view({ id: 3, role: "follower", leader: -1, members: [] });
  assert.deepEqual(clusterEvents(view({}), joining), []);
  assert.deepEqual(clusterEvents(joining, { ...joining, leader: 0, members: m(0) }), [], "not a member yet");
  assert.deepEqual(clusterEvents({ ...joining, leader: 0, members: m(0) }, { ...joining, leader: 0, members: m(0, 3) }),
    ["this is node 3 of a 2-node cluster (0=10.0.0.0:7373, 3=10.0.0.3:7373); the leader is node 0 (10.0.0.0:7373)"]);
});

test("joins, departures and leader changes", () => {
  const two = view({ members: m(0, 1), peers: [peer(1, true)] });
  assert.deepEqual(clusterEvents(view({}), two), ["node 1 (10.0.0.1:7373) joined the cluster"]);
  assert.deepEqual(clusterEvents(two, view({})), ["node 1 (10.0.0.1:7373) left the cluster"]);
  const f = view({ id: 1, role: "follower", members: m(0, 1) });
  assert.deepEqual(clusterEvents(f, { ...f, members: m(0) }), ["this node was removed from the cluster"]);
  assert.deepEqual(clusterEvents(f, { ...f, role: "candidate", leader: -1, term: 2 }),
    ["lost the leader (node 0 (10.0.0.0:7373)): an election is under way; writes wait for a new leader"]);
  assert.deepEqual(clusterEvents({ ...f, leader: -1 }, { ...f, leader: 1, role: "leader", term: 3 }), ["this node is now the leader (term 3)"]);
  assert.deepEqual(clusterEvents({ ...f, leader: -1 }, { ...f, leader: 0, term: 3 }), ["the leader is now node 0 (10.0.0.0:7373) (term 3)"]);
});

test("the leader logs peers going down and coming back", () => {
  const up = view({ members: m(0, 1, 2), peers: [peer(1, true), peer(2, true)] });
  const down = { ...up, peers: [peer(1, true), peer(2, false)] };
  assert.deepEqual(clusterEvents(up, down), ["node 2 (10.0.0.2:7373) is down (no reply): writes fail until it is back or removed"]);
  assert.deepEqual(clusterEvents(down, up), ["node 2 (10.0.0.2:7373) is up again"]);
  assert.deepEqual(clusterEvents(down, down), []);
  // A follower knows nothing of its peers; a new leader starts from what it sees.
  assert.deepEqual(clusterEvents({ ...down, role: "follower", leader: 1 }, { ...up, role: "leader", term: 2 }), ["this node is now the leader (term 2)"]);
});

test("watchCluster logs each event once, with an RFC 3339 timestamp, and stops", () => {
  let current = view({ members: m(0, 1), peers: [peer(1, true)] });
  const listeners = new Set<() => void>();
  const lines: string[] = [];
  const stop = watchCluster(() => current, (l) => (listeners.add(l), () => listeners.delete(l)), (l) => lines.push(l));
  assert.equal(lines.length, 1, "where the node stands, once");
  assert.match(lines[0], / kms: cluster: this is node 0 of a 2-node cluster .*; this node leads$/);
  current = { ...current, peers: [peer(1, false)] };
  for (const l of listeners) l();
  for (const l of listeners) l();
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z kms: cluster: node 1 \(10\.0\.0\.1:7373\) is down/);
  assert.ok(!Number.isNaN(Date.parse(lines[1].split(" ")[0])));
  stop();
  assert.equal(listeners.size, 0);
});
