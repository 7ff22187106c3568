/**
 * Sets up a node's replication: loads (or creates) its durable raft state,
 * and wires the core to the store, the peers and the application.
 */
import { randomBytes } from "node:crypto";
import { Driver } from "../cluster/driver.ts";
import { RaftNode } from "../cluster/node.ts";
import type { Peers } from "./peers.ts";
import { RecordStorage } from "./record-storage.ts";
import { bootstrapState, freshState } from "../cluster/storage.ts";
import type { Durable, Members, Message } from "../cluster/types.ts";
import type { NodeOptions } from "../cluster/options.ts";
import type { Command } from "../state/commands.ts";
import type { Store } from "../store/store.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { watchCluster } from "./events.ts";
import { encodeSnapshot, type KmsNode } from "./node.ts";

/** Which cluster a node belongs to and its id there; kept node-local. */
export interface Membership {
  readonly cluster: string;
  readonly id: number;
}

const NODE = "n/node";

/** Core options for a node: timeouts in ticks of `tickMs`. */
export function coreOptions(m: Membership, node: KmsNode): NodeOptions {
  return {
    id: m.id,
    cluster: m.cluster,
    random: (n) => Math.floor(Math.random() * n),
    applied: node.state.applied,
    electionTicks: node.info.electionTicks,
    proposalTicks: 2 * node.info.electionTicks,
  };
}

/**
 * The node's membership and durable raft state. A data directory without
 * them becomes a new single-node cluster (node 0) advertising `host`.
 */
export async function loadOrBootstrap(store: Store, records: Map<string, Uint8Array>, node: KmsNode): Promise<{ membership: Membership; durable: Durable<Command>; storage: RecordStorage<Command> }> {
  const saved = records.get(NODE);
  const durable = RecordStorage.read<Command>(records);
  if (saved && durable) {
    const membership = JSON.parse(new TextDecoder().decode(saved)) as Membership;
    return { membership, durable, storage: new RecordStorage(store, durable) };
  }
  const membership: Membership = { cluster: randomBytes(16).toString("hex"), id: 0 };
  const members: Members = [{ id: 0, addr: node.info.host }];
  const fresh = bootstrapState<Command>(members, encodeSnapshot(node.state));
  const storage = new RecordStorage<Command>(store, fresh);
  await storage.reset(fresh, [membershipRecord(membership)]);
  return { membership, durable: fresh, storage };
}

/** The record of which cluster this node belongs to. */
function membershipRecord(m: Membership): readonly [string, Uint8Array] {
  return [NODE, new TextEncoder().encode(JSON.stringify(m))];
}

/** Addresses of nodes the core may message: members, and nodes being added (not members yet). */
export class AddressBook {
  readonly #known = new Map<number, string>();

  /** Remembers the address of a node that is not (yet) a member: one being added, or a leader a joining node hears from. */
  learn(id: number, addr: string): void {
    this.#known.set(id, addr);
  }

  /** The address of node `id`. */
  addrOf(driver: Driver<Command>, id: number): string | undefined {
    return driver.status().members.find((m) => m.id === id)?.addr ?? this.#known.get(id);
  }
}

/** Starts replication for a node; returns the book of peer addresses. */
export function startReplication(
  node: KmsNode,
  dataStore: Store,
  hsm: SoftHsm,
  peers: Peers<Command>,
  loaded: { membership: Membership; durable: Durable<Command>; storage: RecordStorage<Command> },
  onFatal: (err: unknown) => void,
): AddressBook {
  const book = new AddressBook();
  const send = (messages: readonly Message<Command>[]) => {
    const byAddr = new Map<string, Message<Command>[]>();
    for (const m of messages) {
      const addr = book.addrOf(driver, m.to);
      if (addr) byAddr.set(addr, [...(byAddr.get(addr) ?? []), m]);
    }
    for (const [addr, batch] of byAddr) peers.send(addr, node.info.host, batch);
  };
  const driver: Driver<Command> = new Driver<Command>(
    new RaftNode(coreOptions(loaded.membership, node), loaded.durable),
    loaded.storage,
    node,
    send,
    onFatal,
  );
  peers.cluster = loaded.membership.cluster;
  node.cluster = { driver, peers, book, membership: loaded.membership, store: loaded.storage, dataStore, hsm };
  driver.start(node.info.tickMs);
  watchCluster(() => driver.status(), (l) => driver.onChange(l));
  return book;
}

/** Resets a fresh node to join `membership`'s cluster: empty log, waiting for the leader's snapshot. */
export async function resetForJoin(node: KmsNode, membership: Membership): Promise<void> {
  const parts = node.parts();
  const fresh = freshState<Command>();
  // The new log and the new membership land in one transaction, with the driver paused.
  await parts.driver.reset(coreOptions(membership, node), fresh, parts.store, () => parts.store.reset(fresh, [membershipRecord(membership)]));
  parts.peers.cluster = membership.cluster;
  node.cluster = { ...parts, membership };
  await node.onJoined?.(membership.cluster);
}
