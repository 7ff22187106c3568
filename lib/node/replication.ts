/**
 * A node's replication: its durable raft state (loaded, or bootstrapped for a
 * new cluster), the core's driver wired to the store, the peers and the
 * application, and the one way a write reaches the leader — proposed here,
 * or forwarded there.
 */
import { randomBytes } from "node:crypto";
import { setImmediate } from "node:timers";
import { type Application, Driver, type Outcome } from "../cluster/driver.ts";
import { RaftNode } from "../cluster/node.ts";
import type { NodeOptions } from "../cluster/options.ts";
import { bootstrapState, freshState } from "../cluster/storage.ts";
import { type Durable, type Members, type Message, NONE } from "../cluster/types.ts";
import { TransportError } from "../net/transport.ts";
import type { Command } from "../state/commands.ts";
import { Errors, KmsError } from "../state/errors.ts";
import type { Store } from "../store/store.ts";
import { watchCluster } from "./events.ts";
import { type NodeKeys, peerCredentials } from "./node-keys.ts";
import { type Peers, PeerError, RPC } from "./peers.ts";
import { RecordStorage } from "./record-storage.ts";

/** Which cluster a node belongs to and its id there; kept node-local. */
export interface Membership {
  readonly cluster: string;
  readonly id: number;
}

/** The replication timing of a node: a tick every `tickMs`, elections after `electionTicks` of silence. */
export interface Timing {
  readonly tickMs: number;
  readonly electionTicks: number;
}

/** A node's replication state as loaded from its store. */
export interface Loaded {
  readonly membership: Membership;
  readonly durable: Durable<Command>;
  readonly storage: RecordStorage<Command>;
}

const NODE = "n/node";

/** Core options for member `m` whose application has applied `applied`. */
export function coreOptions(m: Membership, applied: number, timing: Timing): NodeOptions {
  return {
    id: m.id,
    cluster: m.cluster,
    random: (n) => Math.floor(Math.random() * n),
    applied,
    electionTicks: timing.electionTicks,
    proposalTicks: 2 * timing.electionTicks,
  };
}

/**
 * The node's membership and durable raft state. A data directory without
 * them becomes a new single-node cluster (node 0) advertising `host`, whose
 * first snapshot is what `snapshot` returns (called only then: it is the whole state).
 */
export async function loadOrBootstrap(store: Store, records: Map<string, Uint8Array>, host: string, snapshot: () => Uint8Array): Promise<Loaded> {
  const saved = membershipOf(records);
  const read = RecordStorage.read<Command>(records);
  if (saved && read) return { membership: saved, durable: read.durable, storage: new RecordStorage(store, read.durable, read.rows) };
  const membership: Membership = { cluster: randomBytes(16).toString("hex"), id: 0 };
  const members: Members = [{ id: 0, addr: host }];
  const fresh = bootstrapState<Command>(members, snapshot());
  const storage = new RecordStorage<Command>(store, fresh);
  await storage.reset(fresh, [membershipRecord(membership)]);
  return { membership, durable: fresh, storage };
}

/** The membership a data directory's records name, if any (a node that never started has none). */
export function membershipOf(records: Map<string, Uint8Array>): Membership | undefined {
  const saved = records.get(NODE);
  return saved && JSON.parse(new TextDecoder().decode(saved)) as Membership;
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

  /** The address of node `id` among `members`, or as learnt. */
  addrOf(members: Members, id: number): string | undefined {
    return members.find((m) => m.id === id)?.addr ?? this.#known.get(id);
  }
}

/** The answer to a write whose fate this node cannot know. */
export function outcomeUnknown(why: string): KmsError {
  return Errors.outcomeUnknown(`outcome unknown: ${why}; the write may or may not have been applied`);
}

/** The error for a proposal that did not commit: 503 when that is definite, 504 when this node cannot know. */
export function failedOutcome(o: Extract<Outcome, { ok: false }>, prefix = "cluster unavailable"): KmsError {
  return o.error === "unknown" ? outcomeUnknown(o.reason) : Errors.unavailable(`${prefix}: ${o.reason}`);
}

/** A node's running replication. */
export class Replication {
  readonly driver: Driver<Command>;
  readonly peers: Peers<Command>;
  readonly book = new AddressBook();
  #keys: NodeKeys;
  readonly #timing: Timing;
  #storage: RecordStorage<Command>;
  #membership: Membership;
  /** Forwarded writes awaiting the leader's answer, so a stopping node can answer them. */
  readonly #forwards = new Set<(err: KmsError) => void>();

  /** Wires the core to `app`, the store (through `loaded.storage`) and the peers; start() starts it. */
  constructor(app: Application<Command>, keys: NodeKeys, peers: Peers<Command>, loaded: Loaded, host: string, timing: Timing, applied: number, onFatal: (err: unknown) => void) {
    this.#keys = keys;
    this.peers = peers;
    this.#timing = timing;
    this.#storage = loaded.storage;
    this.#membership = loaded.membership;
    const send = (messages: readonly Message<Command>[]) => {
      const members = this.driver.status().members;
      const byAddr = new Map<string, Message<Command>[]>();
      for (const m of messages) {
        const addr = this.book.addrOf(members, m.to);
        if (addr) byAddr.set(addr, [...(byAddr.get(addr) ?? []), m]);
      }
      for (const [addr, batch] of byAddr) peers.send(addr, host, batch);
    };
    this.driver = new Driver<Command>(new RaftNode(coreOptions(loaded.membership, applied, timing), loaded.durable), loaded.storage, app, send, onFatal, { defer: setImmediate });
    peers.cluster = loaded.membership.cluster;
    peers.onAnswer = (addr, messages) => void this.receive(addr, messages);
  }

  /** The cluster this node belongs to now, and its id there. */
  get membership(): Membership {
    return this.#membership;
  }

  /** The node's keys: the cluster's credentials and what they give. */
  get keys(): NodeKeys {
    return this.#keys;
  }

  /** Switches to other keys (a join, a restore): calls to peers use them from now on. */
  useKeys(keys: NodeKeys): void {
    this.#keys = keys;
    this.peers.use(peerCredentials(keys.cluster));
  }

  /** Starts ticking, and logs cluster events from now on. */
  start(): void {
    this.driver.start(this.#timing.tickMs);
    watchCluster(() => this.driver.status(), (l) => this.driver.onChange(l));
  }

  /**
   * Takes replication messages a peer at `from` sent. With `answer`, resolves
   * with this node's messages to that peer, once they may leave, for the
   * reply to carry back (rather than sending them in requests of their own).
   */
  receive(from: string, messages: readonly Message<Command>[], answer = false): Promise<Message<Command>[]> {
    if (!messages.length) return Promise.resolve([]);
    // A joining node knows no members yet: it answers the leader at the address the leader gave.
    this.book.learn(messages[0].from, from);
    // Answers leave in the reply, not through peers.send: what they acknowledge is published to serving threads first all the same.
    if (answer) return this.driver.answer(messages[0].from, messages).then((out) => (out.length && this.peers.beforeSend?.(), out));
    for (const m of messages) this.driver.step(m);
    return Promise.resolve([]);
  }

  /** Resets a fresh node to join `membership`'s cluster: empty log, waiting for the leader's snapshot. */
  async join(membership: Membership, applied: number): Promise<void> {
    const fresh = freshState<Command>();
    const storage = this.#storage;
    // The new log and the new membership land in one transaction, with the driver paused.
    await this.driver.reset(coreOptions(membership, applied, this.#timing), fresh, storage, () => storage.reset(fresh, [membershipRecord(membership)]));
    this.peers.cluster = membership.cluster;
    this.#membership = membership;
  }

  /**
   * Makes this fresh node the only member of a new cluster `membership`
   * whose log starts from `durable`'s snapshot (a restore): the log, the
   * membership and `records` land in one transaction, with the driver
   * paused; `installed` runs once they have.
   */
  async restart(membership: Membership, durable: Durable<Command>, records: ReadonlyArray<readonly [string, Uint8Array | null]>, installed: () => void): Promise<void> {
    const storage = this.#storage;
    const options = coreOptions(membership, durable.snapshot.index, this.#timing);
    await this.driver.reset(options, durable, storage, async () => {
      await storage.reset(durable, [membershipRecord(membership), ...records]);
      installed();
    });
    this.peers.cluster = membership.cluster;
    this.#membership = membership;
  }

  /**
   * Runs a write on the leader: `here` if this node leads, else `body` is
   * forwarded to the leader (once: a forwarded write that finds no leader
   * fails). A stopping node answers forwards still in flight "outcome unknown".
   */
  async onLeader(forwarded: boolean, body: unknown, here: () => Promise<void>, noLeader = "there is no leader"): Promise<void> {
    if (this.driver.role === "leader") return here();
    const status = this.driver.status();
    if (forwarded) throw Errors.unavailable("cluster unavailable: this node is no longer the leader");
    const leader = status.members.find((m) => m.id === status.leader);
    if (status.leader === NONE || !leader) throw Errors.unavailable(`cluster unavailable: ${noLeader}`);
    let answer!: (err: KmsError) => void;
    const stopped = new Promise<never>((_, reject) => (answer = reject));
    this.#forwards.add(answer);
    try {
      await Promise.race([forward(this.peers, leader.addr, body), stopped]);
    } finally {
      this.#forwards.delete(answer);
    }
  }

  /**
   * A graceful stop: refuses new writes at once, lets those in flight finish
   * for up to `ms`, then answers the rest "outcome unknown" and stops replicating.
   */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    await this.driver.drain(ms);
    while (this.#forwards.size > 0 && Date.now() < deadline) await this.driver.changed(Math.min(50, deadline - Date.now()));
    for (const answer of this.#forwards) answer(outcomeUnknown("the node stopped while the leader had the write"));
    await this.driver.stop();
  }

  /** Whether a write sent to this node would be taken now: the leader (asked, on a follower) reaches every member. */
  async writable(): Promise<boolean> {
    const st = this.driver.status();
    if (st.role === "leader") return st.writable;
    const leader = st.members.find((m) => m.id === st.leader);
    if (!leader) return false;
    try {
      const reply = await this.peers.call(leader.addr, RPC.ready, {}, 1_500) as { writable?: unknown };
      return reply.writable === true;
    } catch {
      return false;
    }
  }

  /** Stops replicating at once (tests; a server drains first). */
  async stop(): Promise<void> {
    await this.driver.stop();
    this.peers.close();
  }
}

/**
 * Sends a write to the leader and maps its answer back to a KmsError. A 503
 * promises the write did not happen, so it is used only when the request
 * never reached the leader; a lost answer is a 504 whose outcome is unknown.
 */
async function forward(peers: Peers<Command>, addr: string, body: unknown): Promise<void> {
  try {
    await peers.call(addr, RPC.forward, body);
  } catch (err) {
    // Only a sealed answer is the leader's word; anything else leaves the outcome unknown.
    if (err instanceof PeerError && err.sealed) throw err.error();
    if (err instanceof TransportError && !err.maybeDelivered) throw Errors.unavailable("cluster unavailable: the leader cannot be reached");
    throw Errors.outcomeUnknown("the leader did not answer: the write may or may not have been applied");
  }
}
