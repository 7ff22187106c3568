/**
 * Cluster events as a node sees them, for its log: members joining and
 * leaving, the leader changing, and (on the leader, the node that hears from
 * every peer) peers going down and coming back. Pure: `next` compares two
 * views of the cluster; `watchCluster` feeds it from the driver.
 */
import type { Status } from "../cluster/types.ts";

/** What the events are computed from: a node's status, reduced to what they need. */
export type ClusterView = Pick<Status, "id" | "role" | "term" | "leader" | "members" | "peers">;

/** The events between two views of the cluster (`before` undefined: the first view). */
export function clusterEvents(before: ClusterView | undefined, now: ClusterView): string[] {
  const addr = (id: number, v: ClusterView = now) => v.members.find((m) => m.id === id)?.addr;
  const who = (id: number, v: ClusterView = now) => `node ${id}${addr(id, v) ? ` (${addr(id, v)})` : ""}`;
  // A lone node has no cluster events worth a line: its start banner says it all.
  const lone = (v: ClusterView) => v.members.length <= 1;
  const member = (v: ClusterView) => v.members.some((m) => m.id === v.id);
  if (!member(now)) {
    // Not (or not yet) a member: a node waiting to be joined says nothing.
    return before && before.id === now.id && member(before) ? ["this node was removed from the cluster"] : [];
  }
  // A first view, or a node that just joined a cluster.
  if (!before || before.id !== now.id || !member(before)) {
    if (lone(now)) return [];
    const list = now.members.map((m) => `${m.id}=${m.addr}`).join(", ");
    const leader = now.leader === now.id ? "; this node leads" : addr(now.leader) ? `; the leader is ${who(now.leader)}` : "";
    return [`this is node ${now.id} of a ${now.members.length}-node cluster (${list})${leader}`];
  }
  const out: string[] = [];
  for (const m of now.members) if (!before.members.some((b) => b.id === m.id)) out.push(`${who(m.id)} joined the cluster`);
  for (const b of before.members) if (!now.members.some((m) => m.id === b.id)) out.push(`${who(b.id, before)} left the cluster`);
  if (now.leader !== before.leader && !(lone(now) && lone(before))) {
    if (now.leader === now.id) out.push(`this node is now the leader (term ${now.term})`);
    else if (now.leader >= 0 && addr(now.leader)) out.push(`the leader is now ${who(now.leader)} (term ${now.term})`);
    else if (before.leader >= 0) out.push(`lost the leader (${who(before.leader, before)}): an election is under way; writes wait for a new leader`);
  }
  // Peer reachability is known to the leader only; a new leader starts from what it sees.
  if (now.role === "leader" && before.role === "leader") {
    for (const p of now.peers) {
      const was = before.peers.find((b) => b.id === p.id);
      if (!was || was.active === p.active || !addr(p.id)) continue;
      out.push(p.active ? `${who(p.id)} is up again` : `${who(p.id)} is down (no reply): writes fail until it is back or removed`);
    }
  }
  return out;
}

/** Logs every cluster event the node sees, each line with an RFC 3339 timestamp; returns a function that stops. */
export function watchCluster(
  status: () => ClusterView,
  onChange: (listener: () => void) => () => void,
  log: (line: string) => void = (line) => console.log(line),
): () => void {
  let last: ClusterView | undefined;
  const check = () => {
    const now = status();
    for (const e of clusterEvents(last, now)) log(`${new Date().toISOString()} kms: cluster: ${e}`);
    last = now;
  };
  check();
  return onChange(check);
}
