/**
 * A serving thread's node: a read replica of the main thread's state, fed
 * the committed entries in commit order (applyEntries, as the node applies
 * them), with the read barrier of docs/performance.md "All cores": a request
 * is answered only once this replica has applied every entry the main
 * thread held (committed or not) when it started, so it never reads older
 * than any thread could have answered or acknowledged before it.
 *
 * It runs only the commands that read the state (LOCAL_COMMANDS); writes
 * and everything else go to the main thread (threads.ts proxies them).
 */
import type { Entry } from "../cluster/types.ts";
import { applyEntries } from "../node/apply-entries.ts";
import { allMaterial } from "../node/wipe.ts";
import { KmsNode, type NodeInfo, ServeElsewhere } from "../node/node.ts";
import type { Command } from "../state/commands.ts";
import { Errors } from "../state/errors.ts";
import { decodeSnapshot, stateOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import { COMMANDS } from "../api/native/commands.ts";
import type { SharedFlags } from "./thread-messages.ts";
import { Waiters } from "./waiters.ts";

/** How long a request waits for this replica to catch up before the main thread serves it instead. */
export const CATCH_UP_MS = 20;

/** Native commands a serving thread runs itself: those that only read the state of an enclave (no write, no cluster call). */
export const LOCAL_COMMANDS: ReadonlySet<number> = new Set([...COMMANDS.values()].filter((c) => !c.write && c.inEnclave).map((c) => c.id));

/** The state of snapshot bytes at `applied`. */
export function replicaState(snapshot: Uint8Array, applied: number): State {
  const state = stateOf(decodeSnapshot(snapshot), { lazyRings: true });
  state.applied = applied;
  return state;
}

/** A read replica (see the module comment); only LOCAL_COMMANDS may run on it. */
export class ReplicaNode extends KmsNode {
  #replica: State;
  readonly #flags: SharedFlags;
  readonly #waiters = new Waiters();
  #adminIdentity: string | undefined;

  constructor(state: State, info: NodeInfo, flags: SharedFlags) {
    // No store: a replica never writes; the commands it runs only read `state`.
    super(state, undefined as unknown as Store, info);
    this.#replica = this.serves(state);
    this.#flags = flags;
  }

  override get state(): State {
    return this.#replica;
  }

  /** Applies committed entries, in commit order; key material they remove is zeroed through the wiper (at once: no backup reads a replica). */
  feed(entries: readonly Entry<Command>[]): void {
    const { wipe } = applyEntries(this.#replica, entries);
    this.wiper.wipe(wipe);
    this.#waiters.wake();
  }

  /** Replaces the state whole (a snapshot or restored backup on the main thread); the old one's key material is zeroed. */
  replace(state: State): void {
    const old = this.#replica;
    this.#replica = this.serves(state);
    this.#waiters.wake();
    this.wiper.wipe(allMaterial(old));
  }

  /** Zeroes every key material array the replica holds (the thread is stopping: its memory is not reused zeroed). */
  wipe(): void {
    this.wiper.wipe(allMaterial(this.#replica));
  }

  /** Sets the admin API key's identity (the node's credentials changed). */
  setAdminIdentity(adminIdentity: string): void {
    this.#adminIdentity = adminIdentity;
  }

  override get info(): NodeInfo {
    const info = super.info;
    return this.#adminIdentity === undefined ? info : { ...info, adminIdentity: this.#adminIdentity };
  }

  /** Whether the node serves reads at all (the main thread's readyForReads, published). */
  override readyForReads(): boolean {
    return this.#flags.ready();
  }

  /** Resolves once this replica has applied what the main thread holds now, or false after `ms`. */
  caughtUpNow(ms: number): Promise<boolean> {
    return this.caughtUp(this.#flags.held(), ms);
  }

  /** Whether this replica may answer a read starting now without waiting. */
  current(): boolean {
    return this.#flags.ready() && this.#replica.applied >= this.#flags.held();
  }

  /** Resolves once this replica has applied `index`, or false after `ms`. */
  caughtUp(index: number, ms: number): Promise<boolean> {
    return this.#waiters.until(() => this.#replica.applied >= index, ms);
  }

  /**
   * The node's barrier, per thread: wait until this replica applied what the
   * main thread held when the read started. If it has not within CATCH_UP_MS
   * (a write pending on the main thread, which may be a long wait while the
   * cluster has no leader), the request goes to the main thread, whose barrier
   * waits only for pending writes to what the request reads.
   */
  override async readBarrier(_reads: Iterable<string>): Promise<void> {
    if (!this.#flags.ready()) throw Errors.unavailable("this node is not serving: it is starting, joining a cluster or catching up");
    const held = this.#flags.held();
    if (this.#replica.applied >= held) return;
    if (!(await this.caughtUp(held, CATCH_UP_MS))) throw new ServeElsewhere("this thread's replica is behind: the main thread serves the request");
  }
}
