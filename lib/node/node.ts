import * as v from "valibot";
import type { Application } from "../cluster/driver.ts";
import type { Entry, Message, Snapshot, Status } from "../cluster/types.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { install, prepare } from "../state/apply.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { counterRecords, decodeSnapshot, encodeSnapshot, recordOf, recordsOfState, stateOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import { validAdminKeyProof } from "./admin-key.ts";
import { type CallEnvelope, CallGate } from "./call-gate.ts";
import { acceptJoin, addNode, editNode, removeNode } from "./membership.ts";
import { askMembers, type MemberAnswer, type Peers, type ReplyEnvelope } from "./peers.ts";
import { blocker } from "./pending.ts";
import { failedOutcome, type Loaded, Replication, type Timing } from "./replication.ts";

/** What a node knows about itself, for status replies. */
export interface NodeInfo extends Timing {
  readonly version: string;
  /** The address peers dial (host:port). */
  readonly host: string;
  readonly startedAt: number;
  /** The identity of the cluster's HSM-derived admin API key ("" until the node knows its cluster). */
  readonly adminIdentity: string;
}

/** What a node calls out to as its life goes on. */
export interface NodeHooks {
  /** Called once the node has switched to another cluster (a join), before it serves anything there. */
  readonly onJoined?: (cluster: string) => Promise<void>;
}

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

  constructor(state: State, store: Store, info: NodeInfo, hooks: NodeHooks = {}) {
    this.#state = state;
    this.#store = store;
    this.#info = info;
    this.#hooks = hooks;
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

  /** Records the identity of the cluster's admin API key (it derives from the cluster). */
  setAdminIdentity(adminIdentity: string): void {
    this.#info = { ...this.#info, adminIdentity };
  }

  /** The state's first snapshot, for a data directory that starts a new cluster. */
  initialSnapshot(): Uint8Array {
    return encodeSnapshot(this.#state);
  }

  /**
   * Starts replicating from `loaded` (its durable state as peer-check.ts
   * returned it) with `peers`; reads wait until `readFloor` is applied.
   */
  replicate(hsm: SoftHsm, peers: Peers<Command>, loaded: Loaded, readFloor: number, onFatal: (err: unknown) => void): void {
    this.#readFloor = readFloor;
    const r = new Replication(this, hsm, peers, loaded, this.#info.host, this.#info, this.#state.applied, onFatal);
    this.#gate = new CallGate(hsm);
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

  /** The joining side: a fresh node switches to the cluster that asks it to join. */
  async acceptJoin(cluster: string, id: number): Promise<void> {
    if (await acceptJoin(this.#parts(), this.#state, cluster, id)) await this.#hooks.onJoined?.(cluster);
  }

  /** Takes replication messages a peer at `from` sent. */
  receive(from: string, messages: readonly Message<Command>[]): void {
    this.#parts().receive(from, messages);
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

  /** Whether `proof` shows the HSM key for re-enabling the admin API key at `at`. */
  validAdminKeyProof(at: number, proof: Uint8Array): boolean {
    const r = this.#parts();
    return validAdminKeyProof(r.hsm, r.membership.cluster, at, proof);
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
    const want = new Set(reads);
    if (this.#state.applied < this.#readFloor) throw Errors.unavailable("this node is not serving: it is catching up with what it acknowledged before a restart");
    const deadline = Date.now() + READ_WAIT_MS;
    for (;;) {
      if (!driver.readable()) throw Errors.unavailable("this node is not serving: it is joining a cluster or was removed from one");
      const e = blocker(driver.pending(), want, this.#state);
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
   * are already zeroed). Every node runs it as it applies a key deletion; a
   * purge after a recovery window is meant to call it too.
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
    const errors = new Map<number, Error>();
    const changes = new Map<string, Uint8Array | null>();
    let erase = false;
    for (const e of entries) {
      if (e.type === "conf" && e.change.op === "add") this.#state.maxNodeId = Math.max(this.#state.maxNodeId, e.change.id);
      if (e.type !== "cmd") continue;
      // Commands come from peers: validate, and let a bad one fail the same way on every node.
      const parsed = v.safeParse(CommandSchema, e.cmd);
      if (!parsed.success) {
        errors.set(e.index, Errors.badRequest("invalid command"));
        continue;
      }
      try {
        const effects = prepare(this.#state, parsed.output);
        install(this.#state, effects);
        for (const fx of effects) changes.set(...recordOf(fx));
        erase ||= deletesKeys(parsed.output);
      } catch (err) {
        errors.set(e.index, err instanceof KmsError ? err : Errors.badRequest("invalid command"));
      }
    }
    this.#state.applied = entries[entries.length - 1].index;
    for (const [k, value] of counterRecords(this.#state)) changes.set(k, value);
    await this.#store.write([...changes], false);
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
      .catch((err) => console.error(`kms: deleted key material is not yet erased from disk: ${(err as Error).message}`))
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
    for (const [k] of recordsOfState(this.#state)) changes.set(k, null);
    for (const [k, value] of recordsOfState(next)) changes.set(k, value);
    await this.#store.write([...changes]);
    this.#state = next;
  }

  /** The state as snapshot bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.#state);
  }
}

/** Whether a command may remove key material (a key, some versions, or an enclave and its keys). */
export function deletesKeys(cmd: Command): boolean {
  return cmd.type === "key.delete" || cmd.type === "enclave.delete";
}
