/**
 * Growing, shrinking and repairing a cluster. Membership changes run on the
 * leader (other nodes forward them), and a node joins only if it is fresh and
 * holds one of the cluster's HSM keys — which the join call, made with the
 * join credentials of that key, proves both ways (docs/recovery.md).
 */
import * as v from "valibot";
import { TransportError } from "../net/transport.ts";
import { Errors, KmsError } from "../state/errors.ts";
import type { State } from "../state/state.ts";
import { JOIN_SERVERNAME } from "./cluster-ca.ts";
import { peerCredentials } from "./node-keys.ts";
import { PeerError, RPC } from "./peers.ts";
import { failedOutcome, type Replication } from "./replication.ts";

/** A node address as peers dial it. */
export const HostSchema = v.pipe(
  v.string(),
  v.regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "invalid host: expected HOST:PORT"),
);

/** Adds the fresh node at `host` to the cluster; resolves once it is in sync and a member. */
export function addNode(r: Replication, state: State, host: string, forwarded: boolean): Promise<void> {
  return r.onLeader(forwarded, { addNode: host }, async () => {
    const { driver, peers, book, membership } = r;
    const st = driver.status();
    if (st.members.some((m) => m.addr === host)) throw Errors.conflict(`${host} is already a member of this cluster`);
    const id = Math.max(state.maxNodeId, ...st.members.map((m) => m.id)) + 1;
    // The fresh node trusts only the join credentials of its own HSM key: try each configured key's, this node's first.
    const own = r.keys.hsm.fingerprint;
    const entries = [...state.hsmKeys.values()].sort((a, b) => Number(b.fingerprint === own) - Number(a.fingerprint === own));
    const body = { cluster: membership.cluster, id, credentials: r.keys.creds };
    for (let i = 0;; i++) {
      try {
        await peers.callWith(peerCredentials(r.keys.joinTrust(entries[i].join)), JOIN_SERVERNAME, host, RPC.join, body);
        break;
      } catch (err) {
        if (err instanceof TransportError && err.untrusted && i + 1 < entries.length) continue;
        if (err instanceof PeerError && !err.sealed && err.status === 403) {
          throw Errors.badRequest(`cannot add ${host}: it refused to join (it does not have one of this cluster's HSM keys)`);
        }
        if (err instanceof PeerError) throw new KmsError(err.kind, `cannot add ${host}: ${err.message}`);
        if (err instanceof TransportError && err.untrusted) {
          throw Errors.badRequest(`cannot add ${host}: its certificate is from none of this cluster's HSM keys (it was started with an HSM key the cluster does not have; 'kms add-hsm' adds one)`);
        }
        throw Errors.unavailable(`cannot add ${host}: it cannot be reached`);
      }
    }
    book.learn(id, host);
    await driver.compact(); // the new node receives the state itself, not a replay of the log
    const o = await driver.proposeChange({ op: "add", id, addr: host });
    if (!o.ok) throw failedOutcome(o, `cannot add ${host}`);
  });
}

/** Removes the node at `host` from the cluster. */
export function removeNode(r: Replication, host: string, forwarded: boolean): Promise<void> {
  return r.onLeader(forwarded, { removeNode: host }, async () => {
    const member = r.driver.status().members.find((m) => m.addr === host);
    if (!member) throw Errors.notFound(`${host} is not a member of this cluster`);
    const o = await r.driver.proposeChange({ op: "remove", id: member.id });
    if (!o.ok) throw failedOutcome(o, `cannot remove ${host}`);
  });
}

/** Repair without quorum: drops `remove` from the membership of the node at `host` ("" = this node). */
export async function editNode(r: Replication, host: string, remove: readonly number[]): Promise<void> {
  if (host) {
    try {
      await r.peers.call(host, RPC.edit, { remove });
      return;
    } catch (err) {
      if (err instanceof PeerError) throw err.error();
      throw Errors.unavailable(`${host} cannot be reached`);
    }
  }
  try {
    await r.driver.forceEdit(remove);
  } catch (err) {
    throw Errors.badRequest((err as Error).message.replace(/^cluster: /, ""));
  }
}

/** Refuses ("conflict") unless the node is fresh: no state change ever applied, and a cluster of its own (or none, after a failed join). */
export function assertFresh(r: Replication, state: State, what: string): void {
  const st = r.driver.status();
  const alone = st.members.length === 0 || (st.members.length === 1 && st.members[0].id === st.id);
  if (state.commit !== 0 || !alone) {
    throw Errors.conflict(`${what}: it already holds state or belongs to a cluster (use an empty data directory)`);
  }
}

/**
 * The joining side: a fresh node switches to the cluster that asks it to
 * join — first to its credentials (`useCredentials`), then to its log; true
 * if it switched now (false: a retried call).
 */
export async function acceptJoin(r: Replication, state: State, cluster: string, id: number, useCredentials: () => Promise<void>): Promise<boolean> {
  const current = r.membership;
  if (current.cluster === cluster && current.id === id) return false; // a retried call
  if (current.cluster === cluster) {
    // A removed node keeps its old state: it cannot simply come back.
    throw Errors.conflict("it was a member of this cluster before and still holds its old state (its data directory was not wiped): " +
      "stop it, empty its data directory, start it again (same HSM key) and add it then");
  }
  assertFresh(r, state, "it is not a fresh node");
  // The credentials first (root.seal): a crash before the membership lands leaves a fresh node that a retried join sets right.
  await useCredentials();
  await r.join({ cluster, id }, state.applied);
  return true;
}
