import * as v from "valibot";
import type { Application, Driver, Outcome } from "../cluster/driver.ts";
import { type Peers, PeerError, RPC } from "../cluster/peers.ts";
import { TransportError } from "../client/transport.ts";
import { NONE, type Entry, type Snapshot } from "../cluster/types.ts";
import { install, prepare } from "../state/apply.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import { decodeBase64, encodeBase64 } from "../state/base64.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { counterRecords, recordOf, recordsOfState, stateOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { log } from "../log/logger.ts";
import { blocker } from "./pending.ts";
import type { AddressBook, Membership } from "./replication.ts";
import type { RecordStorage } from "../cluster/record-storage.ts";

/** What a node knows about itself, for status replies. */
export interface NodeInfo {
  readonly version: string;
  /** The address peers dial (host:port). */
  readonly host: string;
  readonly startedAt: number;
  /** The identity of the cluster's HSM-derived admin API key ("" until the node knows its cluster). */
  readonly adminIdentity: string;
  readonly tickMs: number;
  readonly electionTicks: number;
}

/** The replication side of a node, attached once the listener is bound. */
export interface ClusterParts {
  readonly driver: Driver<Command>;
  readonly peers: Peers<Command>;
  readonly book: AddressBook;
  readonly membership: Membership;
  readonly store: RecordStorage<Command>;
  /** The node's data store (state records live there too). */
  readonly dataStore: Store;
  readonly hsm: SoftHsm;
}

/** How long a read waits for a pending write it depends on (that can be settled: others are refused at once). */
const READ_WAIT_MS = 5_000;

/** The answer to a write whose fate this node cannot know. */
function outcomeUnknown(why: string): KmsError {
  return new KmsError(504, `outcome unknown: ${why}; the write may or may not have been applied`);
}

/** The error for a proposal that did not commit: 503 when that is definite, 504 when this node cannot know. */
export function failedOutcome(o: Extract<Outcome, { ok: false }>, prefix = "cluster unavailable"): KmsError {
  return o.error === "unknown" ? outcomeUnknown(o.reason) : Errors.unavailable(`${prefix}: ${o.reason}`);
}

/**
 * A running node: the in-memory state that serves every read, and the one
 * path by which writes reach it — replicated to every node and applied in
 * log order, durably, before they are acknowledged.
 */
export class KmsNode implements Application<Command> {
  state: State;
  /** Replaced once the listener is bound (the port may be chosen by the OS). */
  info: NodeInfo;
  cluster: ClusterParts | undefined;
  /** Reads wait until this index is applied: set when the node restarted behind what it acknowledged (peer-check.ts). */
  readFloor = 0;
  /** Called once the node has switched to another cluster (a join), before it serves anything there. */
  onJoined?: (cluster: string) => Promise<void>;
  readonly #store: Store;
  #erasing: Promise<void> | false = false;
  #eraseAgain = false;

  constructor(state: State, store: Store, info: NodeInfo) {
    this.state = state;
    this.#store = store;
    this.info = info;
  }

  /** The replication parts, or 503 while the node is starting. */
  parts(): ClusterParts {
    if (!this.cluster) throw Errors.unavailable("the node is starting");
    return this.cluster;
  }

  /** Forwarded writes awaiting the leader's answer, so a stopping node can answer them. */
  readonly #forwards = new Set<(err: KmsError) => void>();

  /**
   * Applies a command through the cluster: on the leader it is proposed and
   * awaited; on a follower it is forwarded to the leader. Resolves only once
   * every node holds it. A 503 is definite (the command never applies); a
   * 504 says the outcome is unknown.
   */
  async write(cmd: Command, forwarded = false): Promise<void> {
    const started = performance.now();
    this.writesInFlight++;
    let ok = false;
    try {
      await this.#write(cmd, forwarded);
      ok = true;
    } finally {
      this.writesInFlight--;
      this.onWrite?.((performance.now() - started) / 1000, ok);
    }
  }

  /** Writes this node is waiting on now (proposed here, or forwarded to the leader). */
  writesInFlight = 0;
  /** Called with each write's duration in seconds and whether it was applied (metrics). */
  onWrite?: (seconds: number, ok: boolean) => void;

  async #write(cmd: Command, forwarded: boolean): Promise<void> {
    const { driver, peers } = this.parts();
    if (driver.stopping) throw Errors.unavailable("the node is stopping");
    const status = driver.status();
    // Validity is decided when the command applies, in log order, identically on every node.
    if (status.role === "leader") return this.#outcome(await driver.propose(cmd));
    if (forwarded) throw Errors.unavailable("cluster unavailable: this node is no longer the leader");
    const leader = status.members.find((m) => m.id === status.leader);
    if (status.leader === NONE || !leader) throw Errors.unavailable("cluster unavailable: there is no leader to take writes");
    let answer!: (err: KmsError) => void;
    const stopped = new Promise<never>((_, reject) => (answer = reject));
    this.#forwards.add(answer);
    try {
      await Promise.race([forward(peers, leader.addr, { cmd }), stopped]);
    } finally {
      this.#forwards.delete(answer);
    }
  }

  #outcome(o: Outcome): void {
    if (!o.ok) throw failedOutcome(o);
    if (o.error) throw o.error;
  }

  /**
   * A graceful stop's first half: refuses new writes at once, lets those in
   * flight finish for up to `ms`, then answers the rest "outcome unknown" and
   * stops replicating. Reads go on until then.
   */
  async drain(ms: number): Promise<void> {
    const driver = this.cluster?.driver;
    if (!driver) return;
    const deadline = Date.now() + ms;
    await driver.drain(ms);
    while (this.#forwards.size > 0 && Date.now() < deadline) await driver.changed(Math.min(50, deadline - Date.now()));
    for (const answer of this.#forwards) answer(outcomeUnknown("the node stopped while the leader had the write"));
    await driver.stop();
  }

  /**
   * Waits until this node may answer a request that reads `reads` (object
   * names, see pending.ts): no entry it holds but has not applied may change
   * any of them. A request blocked by an entry that cannot be settled now (no
   * leader, or a member it needs is unreachable) is refused at once, saying why.
   */
  async readBarrier(reads: Iterable<string>): Promise<void> {
    const { driver } = this.parts();
    const want = new Set(reads);
    if (this.state.applied < this.readFloor) throw Errors.unavailable("this node is not serving: it is catching up with what it acknowledged before a restart");
    const deadline = Date.now() + READ_WAIT_MS;
    for (;;) {
      if (!driver.readable()) throw Errors.unavailable("this node is not serving: it is joining a cluster or was removed from one");
      const e = blocker(driver.pending(), want, this.state);
      if (!e) return;
      if (driver.stopped) throw Errors.unavailable("the node is stopping");
      const why = e.index > driver.commitIndex() ? driver.unsettled() : null;
      if (why) throw Errors.unavailable(`a change to what this request reads is pending and cannot be settled while ${why}: try again later`);
      const left = deadline - Date.now();
      if (left <= 0) throw Errors.unavailable("a change to what this request reads is pending on the cluster: try again");
      await driver.changed(Math.min(left, 100));
    }
  }

  /** Whether this node answers reads (a joining or removed node does not). */
  readyForReads(): boolean {
    return (this.cluster?.driver.readable() ?? false) && this.state.applied >= this.readFloor;
  }

  /** Whether a write sent to this node would be taken now: the leader (asked, on a follower) reaches every member. */
  async readyForWrites(): Promise<boolean> {
    if (!this.cluster) return false;
    const st = this.cluster.driver.status();
    if (st.role === "leader") return st.writable;
    const leader = st.members.find((m) => m.id === st.leader);
    if (!leader) return false;
    try {
      const reply = await this.cluster.peers.call(leader.addr, RPC.ready, {}, 1_500) as { writable?: unknown };
      return reply.writable === true;
    } catch {
      return false;
    }
  }

  /**
   * Removes deleted key material from every file of the data directory: the
   * log is compacted past the deletion (its key.create entries and older
   * snapshots go), then the WAL is checkpointed and truncated (deleted rows
   * are already zeroed). Every node runs it as it applies a key deletion; a
   * purge after a recovery window is meant to call it too.
   */
  async erase(): Promise<void> {
    await this.parts().driver.compact();
    await this.#store.erase();
  }

  /** Applies committed entries in log order, durably, in one transaction. */
  async apply(entries: readonly Entry<Command>[]): Promise<Map<number, Error>> {
    const errors = new Map<number, Error>();
    const changes = new Map<string, Uint8Array | null>();
    let erase = false;
    for (const e of entries) {
      if (e.type === "conf" && e.change.op === "add") this.state.maxNodeId = Math.max(this.state.maxNodeId, e.change.id);
      if (e.type !== "cmd") continue;
      // Commands come from peers: validate, and let a bad one fail the same way on every node.
      const parsed = v.safeParse(CommandSchema, e.cmd);
      if (!parsed.success) {
        errors.set(e.index, Errors.badRequest("invalid command"));
        continue;
      }
      try {
        const effects = prepare(this.state, parsed.output);
        install(this.state, effects);
        for (const fx of effects) changes.set(...recordOf(fx));
        erase ||= deletesKeys(parsed.output);
      } catch (err) {
        errors.set(e.index, err instanceof KmsError ? err : Errors.badRequest("invalid command"));
      }
    }
    this.state.applied = entries[entries.length - 1].index;
    for (const [k, value] of counterRecords(this.state)) changes.set(k, value);
    await this.#store.write([...changes]);
    // Not awaited: the compaction is an input of the driver, which is busy applying this very batch.
    if (erase) this.eraseInBackground();
    return errors;
  }

  /**
   * Runs erase() without waiting for it; a failure is reported, not thrown (the
   * next deletion or restart retries). Requests while one runs collapse into
   * one more run: a burst of deletions compacts the log a few times, not once each.
   */
  eraseInBackground(): void {
    if (this.#erasing) {
      this.#eraseAgain = true;
      return;
    }
    this.#erasing = this.erase()
      .catch((err) => log.error(`deleted key material is not yet erased from disk: ${(err as Error).message}`))
      .finally(() => {
        this.#erasing = false;
        if (this.#eraseAgain) {
          this.#eraseAgain = false;
          this.eraseInBackground();
        }
      });
  }

  /** Replaces the whole state by a snapshot's (a joining or far-behind node). */
  async restore(snapshot: Snapshot): Promise<void> {
    const records = decodeSnapshot(snapshot.data);
    const next = stateOf(records);
    next.applied = snapshot.index;
    const changes = new Map<string, Uint8Array | null>();
    for (const [k] of recordsOfState(this.state)) changes.set(k, null);
    for (const [k, value] of recordsOfState(next)) changes.set(k, value);
    await this.#store.write([...changes]);
    this.state = next;
  }

  /** The state as snapshot bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }
}

/** Whether a command may remove key material (a key, some versions, or an enclave and its keys). */
export function deletesKeys(cmd: Command): boolean {
  return cmd.type === "key.delete" || cmd.type === "enclave.delete";
}

/**
 * Sends a write to the leader and maps its answer back to a KmsError. A 503
 * promises the write did not happen, so it is used only when the request
 * never reached the leader; a lost answer is a 504 whose outcome is unknown.
 */
export async function forward(peers: Peers<Command>, addr: string, body: unknown): Promise<void> {
  try {
    await peers.call(addr, RPC.forward, body);
  } catch (err) {
    // Only a sealed answer is the leader's word; anything else leaves the outcome unknown.
    if (err instanceof PeerError && err.sealed) throw new KmsError(err.status, err.message);
    if (err instanceof TransportError && !err.maybeDelivered) throw Errors.unavailable("cluster unavailable: the leader cannot be reached");
    throw new KmsError(504, "the leader did not answer: the write may or may not have been applied");
  }
}

/** Snapshot bytes: every state record, base64, as JSON. */
export function encodeSnapshot(state: State): Uint8Array {
  const records = recordsOfState(state).map(([k, value]) => [k, encodeBase64(value!)]);
  return new TextEncoder().encode(JSON.stringify(records));
}

function decodeSnapshot(data: Uint8Array): Map<string, Uint8Array> {
  if (data.length === 0) return new Map();
  const rows = v.parse(v.array(v.tuple([v.string(), v.string()])), JSON.parse(new TextDecoder().decode(data)));
  return new Map(rows.map(([k, b]) => [k, decodeBase64(b)]));
}
