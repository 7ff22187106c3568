import { createHmac } from "node:crypto";
import type { Application } from "../cluster/driver.ts";
import type { Entry, Message, Snapshot, Status } from "../cluster/types.ts";
import type { Command } from "../state/commands.ts";
import { Errors } from "../state/errors.ts";
import { counterRecords, decodeSnapshot, encodeSnapshot, isStateReference, recordsOfState, STATE_REFERENCE, stateOf } from "../state/records.ts";
import { frozenCopy, type State } from "../state/state.ts";
import type { OpenedBackup } from "../store/backup.ts";
import type { Store } from "../store/store.ts";
import { log } from "../log/logger.ts";
import { validAdminKeyProof } from "./admin-key.ts";
import { type CallEnvelope, CallGate } from "./call-gate.ts";
import { type ClusterCredentials, encodeCredentials } from "./credentials.ts";
import { acceptJoin, addNode, assertFresh, editNode, removeNode } from "./membership.ts";
import type { NodeKeys } from "./node-keys.ts";
import { askMembers, type MemberAnswer, type Peers, type ReplyEnvelope } from "./peers.ts";
import { blocker } from "./pending.ts";
import { failedOutcome, type Loaded, Replication, type Timing } from "./replication.ts";
import { restoring } from "./restore.ts";
import { allMaterial, Wiper } from "./wipe.ts";
import { applyEntries } from "./apply-entries.ts";

export { deletesKeys } from "./apply-entries.ts";
import { rollingRestart } from "./restart.ts";

/** What a node knows about itself, for status replies. */
export interface NodeInfo extends Timing {
  readonly version: string;
  /** The address peers dial (host:port). */
  readonly host: string;
  readonly startedAt: number;
  /** The identity of the cluster's admin API key. */
  readonly adminIdentity: string;
  /** How long a deleted key or enclave is kept for recovery (0: erased at once). */
  readonly recoveryWindowMs?: number;
}

/** What a node calls out to as its life goes on. */
export interface NodeHooks {
  /** Called once the node has switched to another cluster (a join, a restore), before it serves anything there. */
  readonly onJoined?: (cluster: string) => Promise<void>;
  /** Puts new keys to use (listener certificates, ca.crt): called when the node's cluster credentials change. */
  readonly onKeys?: (keys: NodeKeys) => Promise<void>;
  /** The clock (ms) of what falls due with time (rotations, deletion dates); tests inject another (server/test-clock.ts). */
  readonly clock?: () => number;
  /** Called with each batch of committed entries once applied in memory, before it is written (serving threads' replicas). */
  readonly onApplied?: (entries: readonly Entry<Command>[]) => void;
  /** Called when the state is replaced whole (a snapshot, a restored backup). */
  readonly onReplaced?: (state: State) => void;
  /** Resolves once every serving thread has applied `index`: a write is acknowledged only then. */
  readonly visible?: (index: number) => Promise<void> | void;
}

/**
 * Thrown by a node's read barrier when another part of the node must serve
 * the request instead (a serving thread's replica that is behind the main
 * thread: only the main thread knows which pending writes a read depends on).
 * Whatever the request did so far is dropped: only reads and crypto are served
 * where it can be thrown, so running it again changes nothing.
 */
export class ServeElsewhere extends Error {}

/** How long a read waits for a pending write it depends on (that can be settled: others are refused at once). */
const READ_WAIT_MS = 5_000;

/**
 * A running node: the in-memory state that serves every read, and the one
 * path by which writes reach it — replicated to every node and applied in
 * log order, durably, before they are acknowledged.
 */
export class KmsNode implements Application<Command> {
  #state: State;
  #info: NodeInfo;
  #replication: Replication | undefined;
  #gate: CallGate | undefined;
  /** Reads wait until this index is applied: set when the node restarted behind what it acknowledged (peer-check.ts). */
  #readFloor = 0;
  readonly #hooks: NodeHooks;
  readonly #store: Store;
  #erasing: Promise<void> | false = false;
  #eraseAgain = false;
  /** Set while a backup is being installed: a second restore is refused. */
  #restoring = false;
  /**
   * The node's clock (ms) for what falls due with time (recovery windows,
   * rotations, deletion dates): the hooks' clock or the real one; tests inject another.
   */
  clock: () => number = () => Date.now();
  /** Zeroes the key material of purged keys, once no backup still reads it. */
  readonly wiper = new Wiper();

  constructor(state: State, store: Store, info: NodeInfo, hooks: NodeHooks = {}) {
    this.#state = this.serves(state);
    this.#store = store;
    this.#info = info;
    this.#hooks = hooks;
    if (hooks.clock) this.clock = hooks.clock;
  }

  /** `state`, its evicted key material zeroed through this node's wiper from now on. */
  protected serves(state: State): State {
    state.onDropped = (arrays) => this.wiper.wipeSoon(arrays);
    return state;
  }

  /** The state every read is served from (replaced whole by a snapshot). */
  get state(): State {
    return this.#state;
  }

  /** What the node knows about itself. */
  get info(): NodeInfo {
    return this.#info;
  }

  /** Records the address peers dial, once the listener is bound (the port may be chosen by the OS). */
  listening(host: string): void {
    this.#info = { ...this.#info, host };
  }

  /** The state's first snapshot, for a data directory that starts a new cluster. */
  initialSnapshot(): Uint8Array {
    return encodeSnapshot(this.#state);
  }

  /**
   * Starts replicating from `loaded` (its durable state as peer-check.ts
   * returned it) with `peers`; reads wait until `readFloor` is applied.
   */
  replicate(keys: NodeKeys, peers: Peers<Command>, loaded: Loaded, readFloor: number, onFatal: (err: unknown) => void): void {
    this.#readFloor = readFloor;
    const r = new Replication(this, keys, peers, loaded, this.#info.host, this.#info, this.#state.applied, onFatal);
    this.#gate = new CallGate(() => r.keys);
    this.#replication = r;
    r.start();
  }

  /** The replication, or 503 while the node is starting. */
  #parts(): Replication {
    if (!this.#replication) throw Errors.unavailable("the node is starting");
    return this.#replication;
  }

  /** The replication core's view of this node and its cluster. */
  status(): Status {
    return this.#parts().driver.status();
  }

  /** The node's keys (the cluster's credentials and what they give), or 503 while the node is starting. */
  get keys(): NodeKeys {
    return this.#parts().keys;
  }

  /** Entries this node holds but has not applied. */
  pending(): readonly Entry<Command>[] {
    return this.#parts().driver.pending();

  }

  /** Whether this node leads and may write now (the leader proposes what falls due: due-jobs.ts). */
  leadsWritably(): boolean {
    const driver = this.#replication?.driver;
    if (!driver || driver.stopping) return false;
    const st = driver.status();
    return st.role === "leader" && st.writable;
  }

  /**
   * A key for `purpose` derived from the cluster's credentials (not the HSM
   * key, which may rotate), bound to the cluster id: another cluster derives another.
   */
  clusterKey(purpose: string): Uint8Array {
    const creds = this.keys.creds;
    return new Uint8Array(createHmac("sha256", creds.recovery).update(`kms/v1/cluster-key:${purpose}/${this.cluster}`).digest());
  }

  /** The cluster this node belongs to ("" while it is starting). */
  get cluster(): string {
    return this.#replication?.membership.cluster ?? "";
  }

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
      // Acknowledged only once every serving thread can read it (a no-op with one thread).
      await this.#hooks.visible?.(this.#state.applied);
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
    const r = this.#parts();
    if (r.driver.stopping) throw Errors.unavailable("the node is stopping");
    // Validity is decided when the command applies, in log order, identically on every node.
    await r.onLeader(forwarded, { cmd }, async () => {
      const o = await r.driver.propose(cmd);
      if (!o.ok) throw failedOutcome(o);
      if (o.error) throw o.error;
    }, "there is no leader to take writes");
  }

  /** Adds the fresh node at `host` to the cluster; resolves once it is in sync and a member. */
  addNode(host: string, forwarded = false): Promise<void> {
    return addNode(this.#parts(), this.#state, host, forwarded);
  }

  /** Removes the node at `host` from the cluster. */
  removeNode(host: string, forwarded = false): Promise<void> {
    return removeNode(this.#parts(), host, forwarded);
  }

  /** Repair without quorum: drops `remove` from the membership of the node at `host` ("" = this node). */
  editNode(host: string, remove: readonly number[]): Promise<void> {
    return editNode(this.#parts(), host === this.#info.host ? "" : host, remove);
  }

  /** The joining side: a fresh node switches to the cluster that asks it to join, and to its credentials. */
  async acceptJoin(cluster: string, id: number, creds: ClusterCredentials): Promise<void> {
    const r = this.#parts();
    if (await acceptJoin(r, this.#state, cluster, id, () => this.#useKeys(r.keys.with(creds)))) await this.#hooks.onJoined?.(cluster);
  }

  /**
   * Makes this fresh node a new single-node cluster holding exactly the
   * backup's state, with the backed-up cluster's credentials; returns the new
   * cluster's id. Refuses, changing nothing, a node that is not fresh.
   */
  async installBackup(backup: OpenedBackup): Promise<string> {
    const r = this.#parts();
    if (this.#restoring) throw Errors.conflict("cannot restore onto this node: a restore is already running");
    assertFresh(r, this.#state, "cannot restore onto this node");
    const next = restoring(backup, this.#info.host, r.keys.hsm.fingerprint);
    this.#restoring = true;
    const old = r.keys;
    try {
      // The credentials first (root.seal): a crash before the rest lands leaves a fresh node a retried restore sets right.
      await this.#useKeys(old.with(next.creds));
      const changes = new Map<string, Uint8Array | null>();
      for (const [k] of recordsOfState(this.#state)) changes.set(k, null);
      for (const [k, value] of recordsOfState(next.state)) changes.set(k, value);
      try {
        await r.restart(next.membership, next.durable, [...changes], () => this.#replace(next.state));
      } catch (err) {
        // Nothing of the backup landed (one transaction): the node goes back to its own credentials, as fresh as before.
        await this.#useKeys(old);
        throw err;
      }
      // Sealed for every HSM key the backed-up cluster had, like any of its nodes.
      await this.#reseal(r.keys);
      await this.#hooks.onJoined?.(next.membership.cluster);
      return next.membership.cluster;
    } finally {
      this.#restoring = false;
    }
  }

  /** What a deletion made now by `by` carries: when, by whom, and until when it is kept (nothing when the window is 0: final at once). */
  deletionStamp(by: string): { at?: number; by?: string; keepUntil?: number } {
    const window = this.#info.recoveryWindowMs ?? 0;
    if (window <= 0) return {};
    const at = this.clock();
    return { at, by, keepUntil: at + window };
  }

  /** Uses other cluster credentials: reseals root.seal with them, then switches certificates and peers. */
  async #useKeys(keys: NodeKeys): Promise<void> {
    await this.#reseal(keys);
    this.#parts().useKeys(keys);
    this.#info = { ...this.#info, adminIdentity: keys.adminIdentity };
    await this.#hooks.onKeys?.(keys);
  }

  /** Seals root.seal, with the credentials, for every configured HSM key (they changed, or the credentials did). */
  async #reseal(keys: NodeKeys): Promise<void> {
    await this.#store.reseal(encodeCredentials(keys.creds), [...this.#state.hsmKeys.values()]);
  }

  /** Takes replication messages a peer at `from` sent; with `answer`, resolves with this node's messages to it (see Replication.receive). */
  receive(from: string, messages: readonly Message<Command>[], answer = false): Promise<Message<Command>[]> {
    return this.#parts().receive(from, messages, answer);
  }

  /** Calls `path` on every other member in parallel (see askMembers). */
  askMembers(path: string, timeoutMs: number): Promise<MemberAnswer[]> {
    const r = this.#parts();
    const st = r.driver.status();
    return askMembers(r.peers, st.members, st.id, path, timeoutMs);
  }

  /** Opens a node-to-node call (see CallGate.open); 503 while the node is starting. */
  openCall(path: string, certificate: Uint8Array | undefined, body: Uint8Array): CallEnvelope {
    this.#parts();
    return this.#gate!.open(path, certificate, body);
  }

  /** Seals the answer to a node-to-node call. */
  sealReply(path: string, reply: ReplyEnvelope): Uint8Array {
    return this.#gate!.seal(path, reply);
  }

  /** Restarts every other member, one at a time, each back serving reads before the next (see restart.ts). */
  restartOthers(): Promise<Array<{ id: number; host: string; seconds: number }>> {
    return rollingRestart(this.#parts());
  }

  /** Whether `proof` shows an HSM key of the cluster for re-enabling the admin API key at `at`. */
  validAdminKeyProof(at: number, proof: Uint8Array): boolean {
    const r = this.#parts();
    return validAdminKeyProof(r.keys.creds, r.membership.cluster, at, proof);
  }

  /**
   * A graceful stop's first half: refuses new writes at once, lets those in
   * flight finish for up to `ms`, then answers the rest "outcome unknown" and
   * stops replicating. Reads go on until then.
   */
  async drain(ms: number): Promise<void> {
    await this.#replication?.drain(ms);
  }

  /** Stops replicating at once and closes the peers' connections (tests; a server drains). */
  async stop(): Promise<void> {
    await this.#replication?.stop();
  }

  /**
   * Waits until this node may answer a request that reads `reads` (object
   * names, see pending.ts): no entry it holds but has not applied may change
   * any of them. A request blocked by an entry that cannot be settled now (no
   * leader, or a member it needs is unreachable) is refused at once, saying why.
   */
  async readBarrier(reads: Iterable<string>): Promise<void> {
    const { driver } = this.#parts();
    if (this.#state.applied < this.#readFloor) throw Errors.unavailable("this node is not serving: it is catching up with what it acknowledged before a restart");
    // Nothing pending is the common case: it needs neither the set of reads nor the clock.
    let want: Set<string> | undefined;
    let deadline = 0;
    for (;;) {
      if (!driver.readable()) throw Errors.unavailable("this node is not serving: it is joining a cluster or was removed from one");
      const pending = driver.pending();
      if (pending.length === 0) return;
      want ??= new Set(reads);
      deadline ||= Date.now() + READ_WAIT_MS;
      const e = blocker(pending, want, this.#state);
      if (!e) return;
      if (driver.stopped) throw Errors.unavailable("the node is stopping");
      const why = e.index > driver.commitIndex() ? driver.unsettled() : null;
      if (why) throw Errors.unavailable(`a change to what this request reads is pending and cannot be settled while ${why}: try again later`);
      const left = deadline - Date.now();
      if (left <= 0) throw Errors.unavailable("a change to what this request reads is pending on the cluster: try again");
      await driver.changed(Math.min(left, 100));
    }
  }

  /**
   * A frozen copy of the state taken once every entry this node held when
   * asked has been applied (or dropped), waiting at most `ms`: it then holds
   * every write acknowledged before the call, at one index (a backup's).
   * Later entries do not delay it.
   */
  async settledCopy(ms: number): Promise<State> {
    const { driver } = this.#parts();
    if (!this.readyForReads()) throw Errors.unavailable("this node is not serving: it is joining a cluster or catching up");
    const waiting = new Set(driver.pending().map((e) => `${e.index}/${e.term}`));
    const deadline = Date.now() + ms;
    while (driver.pending().some((e) => waiting.has(`${e.index}/${e.term}`))) {
      if (driver.stopped) throw Errors.unavailable("the node is stopping");
      if (Date.now() > deadline) throw Errors.unavailable("writes in flight did not settle: try the backup again");
      await driver.changed(100);
    }
    return frozenCopy(this.#state);
  }

  /** Whether this node answers reads (a joining or removed node does not). */
  readyForReads(): boolean {
    return (this.#replication?.driver.readable() ?? false) && this.#state.applied >= this.#readFloor;
  }

  /** Whether a write sent to this node would be taken now: the leader (asked, on a follower) reaches every member. */
  async readyForWrites(): Promise<boolean> {
    return (await this.#replication?.writable()) ?? false;
  }

  /**
   * Removes deleted key material from every file of the data directory: the
   * log is compacted past the deletion (its key.create entries and older
   * snapshots go), then the WAL is checkpointed and truncated (deleted rows
   * are already zeroed). Every node runs it as it applies a deletion not kept
   * for recovery, and a purge after the recovery window.
   */
  async erase(): Promise<void> {
    await this.#parts().driver.compact();
    await this.#store.erase();
  }

  /**
   * Applies committed entries in log order, in one transaction. Unsynced: the
   * entries are durable in the log, a restart applies again whatever a power
   * loss undid (the state records carry the applied index), and the next log
   * append syncs it anyway. One fsync per Ready, not two.
   */
  async apply(entries: readonly Entry<Command>[]): Promise<Map<number, Error>> {
    const { errors, changes, wipe, erase, hsmChanged } = applyEntries(this.#state, entries);
    // Serving threads' replicas take the same entries, in the same order (lib/server/threads.ts).
    this.#hooks.onApplied?.(entries);
    for (const [k, value] of counterRecords(this.#state)) changes.set(k, value);
    // Not synced: the state's records are rebuilt from the durable log after a crash (docs/performance.md).
    await this.#store.write([...changes], false);
    if (hsmChanged && this.#replication) await this.#reseal(this.#replication.keys);
    this.wiper.wipe(wipe);
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
    if (this.isReference(snapshot.data)) {
      // Our own compaction: the state records already hold that state, or more.
      if (this.#state.applied >= snapshot.index) return;
      throw new Error(`the snapshot at ${snapshot.index} refers to state records this node does not hold (applied ${this.#state.applied})`);
    }
    const records = decodeSnapshot(snapshot.data);
    const next = stateOf(records);
    next.applied = snapshot.index;
    const changes = new Map<string, Uint8Array | null>();
    for (const [k] of recordsOfState(this.#state)) changes.set(k, null);
    for (const [k, value] of recordsOfState(next)) changes.set(k, value);
    await this.#store.write([...changes]);
    const before = [...this.#state.hsmKeys.keys()].sort().join();
    this.#replace(next);
    if (this.#replication && before !== [...next.hsmKeys.keys()].sort().join()) await this.#reseal(this.#replication.keys);
  }

  /** Serves `next` from now on; the replaced state's key material is zeroed (once no backup reads it). */
  #replace(next: State): void {
    const old = this.#state;
    this.#state = this.serves(next);
    this.#hooks.onReplaced?.(next);
    this.wiper.wipe(allMaterial(old));
  }

  /** The state as snapshot bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.#state);
  }

  /**
   * A snapshot that refers to the state records: apply() writes them in the
   * same ordered store as the log, so once a compaction's snapshot is on disk
   * the records hold the state at its index or later. O(1), where snapshot()
   * is the whole state; the driver sends a peer only the whole state.
   */
  reference(): Uint8Array {
    return STATE_REFERENCE;
  }

  /** Whether snapshot bytes are reference(). */
  isReference(data: Uint8Array): boolean {
    return isStateReference(data);
  }
}
