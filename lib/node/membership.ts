/**
 * Growing, shrinking and repairing a cluster. Membership changes run on the
 * leader (other nodes forward them), and a node joins only if it is fresh and
 * holds the same HSM key — which the sealed join call proves.
 */
import * as v from "valibot";
import { TransportError } from "../net/transport.ts";
import { PeerError, RPC } from "./peers.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { failedOutcome, forward, type KmsNode } from "./node.ts";
import { resetForJoin } from "./replication.ts";

/** A node address as peers dial it. */
export const HostSchema = v.pipe(
  v.string(),
  v.regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "invalid host: expected HOST:PORT"),
);

/** Runs `op` on the leader: here if this node leads, else forwarded (once). */
async function onLeader(node: KmsNode, forwarded: boolean, body: unknown, here: () => Promise<void>): Promise<void> {
  const { driver, peers } = node.parts();
  const st = driver.status();
  if (st.role === "leader") return here();
  if (forwarded) throw Errors.unavailable("cluster unavailable: this node is no longer the leader");
  const leader = st.members.find((m) => m.id === st.leader);
  if (!leader) throw Errors.unavailable("cluster unavailable: there is no leader");
  await forward(peers, leader.addr, body);
}

/** Adds the fresh node at `host` to the cluster; resolves once it is in sync and a member. */
export function addNode(node: KmsNode, host: string, forwarded = false): Promise<void> {
  return onLeader(node, forwarded, { addNode: host }, async () => {
    const { driver, peers, book, membership } = node.parts();
    const st = driver.status();
    if (st.members.some((m) => m.addr === host)) throw new KmsError(409, `${host} is already a member of this cluster`);
    const id = Math.max(node.state.maxNodeId, ...st.members.map((m) => m.id)) + 1;
    try {
      await peers.call(host, RPC.join, { cluster: membership.cluster, id });
    } catch (err) {
      if (err instanceof PeerError && !err.sealed && err.status === 403) {
        throw new KmsError(400, `cannot add ${host}: it refused to join (it does not have this cluster's HSM key)`);
      }
      if (err instanceof PeerError) throw new KmsError(err.status, `cannot add ${host}: ${err.message}`);
      if (err instanceof TransportError && err.untrusted) {
        throw new KmsError(400, `cannot add ${host}: its certificate is not from this cluster's CA (it does not have this cluster's HSM key)`);
      }
      throw Errors.unavailable(`cannot add ${host}: it cannot be reached`);
    }
    book.learn(id, host);
    await driver.compact(); // the new node receives the state itself, not a replay of the log
    const o = await driver.proposeChange({ op: "add", id, addr: host });
    if (!o.ok) throw failedOutcome(o, `cannot add ${host}`);
  });
}

/** Removes the node at `host` from the cluster. */
export function removeNode(node: KmsNode, host: string, forwarded = false): Promise<void> {
  return onLeader(node, forwarded, { removeNode: host }, async () => {
    const { driver } = node.parts();
    const member = driver.status().members.find((m) => m.addr === host);
    if (!member) throw new KmsError(404, `${host} is not a member of this cluster`);
    const o = await driver.proposeChange({ op: "remove", id: member.id });
    if (!o.ok) throw failedOutcome(o, `cannot remove ${host}`);
  });
}

/** Repair without quorum: drops `remove` from the membership of the node at `host` ("" = this node). */
export async function editNode(node: KmsNode, host: string, remove: readonly number[]): Promise<void> {
  const { driver, peers } = node.parts();
  if (host && host !== node.info.host) {
    try {
      await peers.call(host, RPC.edit, { remove });
      return;
    } catch (err) {
      if (err instanceof PeerError) throw new KmsError(err.status, err.message);
      throw Errors.unavailable(`${host} cannot be reached`);
    }
  }
  try {
    await driver.forceEdit(remove);
  } catch (err) {
    throw Errors.badRequest((err as Error).message.replace(/^cluster: /, ""));
  }
}

/** The joining side: a fresh node switches to the cluster that asks it to join. */
export async function acceptJoin(node: KmsNode, cluster: string, id: number): Promise<void> {
  const { membership: current, driver } = node.parts();
  if (current.cluster === cluster && current.id === id) return; // a retried call
  if (current.cluster === cluster) {
    // A removed node keeps its old state: it cannot simply come back.
    throw new KmsError(409, "it was a member of this cluster before and still holds its old state (its data directory was not wiped): " +
      "stop it, empty its data directory, start it again (same HSM key) and add it then");
  }
  // Fresh: no state change ever applied, and a cluster of its own (or none, after a failed join).
  const st = driver.status();
  const alone = st.members.length === 0 || (st.members.length === 1 && st.members[0].id === st.id);
  if (node.state.commit !== 0 || !alone) {
    throw new KmsError(409, "it is not a fresh node: it already holds state or belongs to a cluster (use an empty data directory)");
  }
  await resetForJoin(node, { cluster, id });
}
