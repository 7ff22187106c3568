/**
 * Drives the pure replication core with time, disk and network: ticks from a
 * clock, each Ready persisted, then sent (a leader's appends: sent while
 * persisted, Ready.sendFirst), then applied, then reported; messages to a
 * peer whose request is being answered go back in that answer (answer()). Inputs
 * that arrive while a Ready is being handled wait in a queue, because the
 * core accepts none between ready() and advance(). The clock, the storage,
 * the transport (`send`) and the application are adapters: the server gives
 * it real ones (node/replication.ts), the simulator (sim/cluster.ts) its own,
 * synchronous ones, and the very same loop then runs synchronously.
 */
import { type Clock, REAL_CLOCK } from "./clock.ts";
import { runMaybeAsync } from "./maybe-async.ts";
import { RaftNode } from "./node.ts";
import type { NodeOptions } from "./options.ts";
import type { RaftStorage } from "./storage.ts";
import type { ConfChange, Durable, Entry, Message, ProposeResult, Snapshot, Status } from "./types.ts";

/** What the driver needs from the application whose commands it replicates. */
export interface Application<C> {
  /** Applies committed entries in order, durably; returns the application's error per failed index. */
  apply(entries: readonly Entry<C>[]): Map<number, Error> | Promise<Map<number, Error>>;
  /** Replaces the whole application state by a snapshot's. */
  restore(snapshot: Snapshot): void | Promise<void>;
  /** The application state (as of the last applied entry) as snapshot bytes. */
  snapshot(): Uint8Array;
  /**
   * Optional, with isReference: snapshot bytes that only refer to the
   * application's own durable state as of the last applied entry, in O(1).
   * Compactions then store these, and snapshot() runs only when a peer needs
   * the whole state (a joining or far-behind node); a reference never leaves
   * the node.
   */
  reference?(): Uint8Array;
  /** Whether snapshot bytes are a reference (see reference()). */
  isReference?(data: Uint8Array): boolean;
}

/** Applied entries kept in the log before it is compacted into a snapshot. */
const COMPACT_EVERY = 1_000;

/** Whether to compact the log after a Ready, given what is applied and the last snapshot's index. */
export type CompactPolicy = (applied: number, snapshotIndex: number) => boolean;

/** The adapters a driver runs with besides the core, the storage, the application and the transport. */
export interface DriverOptions {
  /** Ticks, deadlines and waits (default: the real clock). */
  readonly clock?: Clock;
  /** When to compact (default: every COMPACT_EVERY applied entries). */
  readonly compact?: CompactPolicy;
  /**
   * Where an idle driver runs the inputs that arrive: at once (the default,
   * and the simulator's), or later through this (the server: setImmediate), so
   * that every proposal and message read in the same turn of the event loop
   * shares one Ready, one disk transaction and one replication round.
   */
  readonly defer?: (run: () => void) => void;
  /** How long answer() may hold a peer's request for a Ready to become durable (default ANSWER_WAIT_MS). */
  readonly answerWaitMs?: number;
}

/**
 * How long a peer's request may wait for this node's answer. A peer keeps
 * only a few requests in flight: held through a disk that stalls, they would
 * keep its heartbeats from arriving, and this node would start an election
 * against a live leader. Past the bound the request is answered empty and
 * what this node has to say leaves in a request of its own, as before.
 */
export const ANSWER_WAIT_MS = 200;

/** Sends messages to peers; best effort (the core retries). */
export type Send<C> = (messages: readonly Message<C>[]) => void;

/**
 * The outcome of a proposal: committed and applied (maybe with an application
 * error); refused or failed, definitely (it never applies anywhere); or, with
 * error "unknown", not known (the node stopped or failed while the entry was
 * in flight: other nodes may still commit it; or it committed, but a received
 * snapshot replaced this node's state before it applied the entry).
 */
export type Outcome =
  | { readonly ok: true; readonly index: number; readonly error?: Error }
  | { readonly ok: false; readonly error: string; readonly reason: string; readonly leader: number };

/** An input waiting for the core; `cancel` answers it if the node stops before it runs. */
interface Input {
  readonly run: () => void;
  readonly cancel?: () => void;
}

/** A caller of answer(): it takes the messages to peer `to` of the next Ready. */
interface Answer<C> {
  readonly to: number;
  /** Answered (or given up past the bound): its messages, if any come, are sent instead. */
  done: boolean;
  readonly resolve: (ms: Message<C>[]) => void;
}

/** Runs one RaftNode. */
export class Driver<C> {
  #raft: RaftNode<C>;
  #storage: RaftStorage<C>;
  readonly #app: Application<C>;
  readonly #send: Send<C>;
  readonly #inbox: Input[] = [];
  readonly #waiting = new Map<number, (o: Outcome) => void>();
  /** Application errors by log index, kept until their proposer asks. */
  readonly #errors = new Map<number, Error>();
  readonly #listeners = new Set<() => void>();
  /** Callers of answer() whose messages the core has taken: they wait for the Ready those produce. */
  #answers: Answer<C>[] = [];
  /** Those whose messages the Ready in hand holds. */
  #answering: Answer<C>[] = [];
  #busy = false;
  /** A deferred kick is pending (see DriverOptions.defer). */
  #deferred = false;
  readonly #defer: ((run: () => void) => void) | undefined;
  readonly #answerWaitMs: number;
  #held = false;
  #draining = false;
  #stopped = false;
  #paused = false;
  #running: void | Promise<void> = undefined;
  #stopTicking: (() => void) | undefined;
  readonly #clock: Clock;
  readonly #shouldCompact: CompactPolicy;
  #failure: unknown;
  readonly #onFatal: (err: unknown) => void;
  /** Index of the latest snapshot on disk, and compact() calls waiting for theirs. */
  #durableSnapshot: number;
  /** The index the application's state reflects (what a reference snapshot stands for). */
  #appApplied: number;
  /**
   * Whether a peer waits for the whole state: "wanted" until a compaction
   * stores snapshot(), "stored" from then until a whole state is sent
   * (compactions meanwhile store the whole state too, as the peer's retry
   * must find one), "no" otherwise.
   */
  #peerWaits: "no" | "wanted" | "stored" = "no";
  #snapshotWaiters: Array<{ readonly index: number; readonly resolve: () => void; readonly reject: (err: Error) => void }> = [];

  constructor(raft: RaftNode<C>, storage: RaftStorage<C>, app: Application<C>, send: Send<C>, onFatal: (err: unknown) => void, opts: DriverOptions = {}) {
    this.#clock = opts.clock ?? REAL_CLOCK;
    this.#shouldCompact = opts.compact ?? ((applied, snapshotIndex) => applied - snapshotIndex >= COMPACT_EVERY);
    this.#defer = opts.defer;
    this.#answerWaitMs = opts.answerWaitMs ?? ANSWER_WAIT_MS;
    this.#durableSnapshot = raft.snapshotIndex;
    this.#appApplied = raft.applied;
    this.#raft = raft;
    this.#storage = storage;
    this.#app = app;
    this.#send = send;
    this.#onFatal = onFatal;
  }

  /** Starts ticking every `tickMs`. */
  start(tickMs: number): void {
    this.#stopTicking = this.#clock.every(tickMs, () => this.#input({ run: () => this.#raft.tick() }));
    this.#input({ run: () => this.#raft.campaign() }); // a single-node cluster need not wait a timeout
  }

  /**
   * The first half of a graceful stop: refuses new proposals from now on
   * (definitely: nothing is appended) while the node keeps replicating, and
   * waits up to `ms` for the proposals in flight to be answered (committed,
   * or failed definitely at their deadline). True if none is left.
   */
  async drain(ms: number): Promise<boolean> {
    this.#draining = true;
    const deadline = this.#clock.now() + ms;
    while (this.#waiting.size > 0 && !this.#stopped && !this.#failure) {
      const left = deadline - this.#clock.now();
      if (left <= 0) break;
      await this.changed(Math.min(left, 100));
    }
    return this.#waiting.size === 0;
  }

  /** True once a stop has begun (new proposals are refused). */
  get stopping(): boolean {
    return this.#draining || this.#stopped;
  }

  /** True once the node has stopped (or failed): nothing changes any more. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Stops: no more ticks or inputs; resolves once the Ready in hand is done.
   * Inputs still queued are cancelled (their proposals were never appended:
   * a definite failure). Proposals in flight are answered "unknown": their
   * entries may be durable on other nodes and commit without this one.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#stopTicking?.();
    for (const w of this.#snapshotWaiters) w.reject(new Error("the node has stopped"));
    this.#snapshotWaiters = [];
    const settle = () => {
      this.#cancelInbox();
      this.#answerUnknown("the node stopped");
      this.#notify(); // waiting reads give up
    };
    // Idle (always, in the simulator): everything is answered before stop() returns.
    if (!this.#busy) return Promise.resolve(settle());
    return this.#idle().then(settle);
  }

  /** Replaces the core (a node joining another cluster starts over from `durable`, written by `persist`). */
  async reset(options: NodeOptions, durable: Durable<C>, storage: RaftStorage<C>, persist: () => Promise<void>): Promise<void> {
    // Hold inputs while the disk is rewritten: no Ready of the old core may interleave.
    this.#paused = true;
    try {
      await this.#idle();
      await persist();
      this.#raft = new RaftNode(options, durable);
      this.#appApplied = this.#raft.applied;
      this.#storage = storage;
      // The old log is gone from disk altogether, which is all a waiting compact() wanted.
      this.#durableSnapshot = durable.snapshot.index;
      for (const w of this.#snapshotWaiters) w.resolve();
      this.#snapshotWaiters = [];
    } finally {
      this.#paused = false;
    }
    this.#notify();
    this.#kick();
  }

  /** Holds inputs in the queue until release(): the simulator gathers a step's inputs into one Ready this way. */
  hold(): void {
    this.#held = true;
  }

  /** Runs the inputs held since hold(). */
  release(): void {
    this.#held = false;
    this.#kick();
  }

  /** Feeds a message from a peer. */
  step(m: Message<C>): void {
    this.#input({ run: () => this.#raft.step(m) });
  }

  /**
   * Feeds messages from peer `from` and resolves with what this node has to
   * say to `from` in return, once the Ready they produce is durable (so it may
   * leave): those messages are not sent, the caller carries them back in its
   * answer to the peer's request. Resolves empty if they produce nothing for
   * `from`, or the node stops first, or they are not durable within the
   * bound (answerWaitMs): then they are sent as any others.
   */
  answer(from: number, messages: readonly Message<C>[]): Promise<Message<C>[]> {
    return new Promise((resolve) => {
      let cancel = () => {};
      const a: Answer<C> = {
        to: from, done: false,
        resolve: (ms) => {
          if (a.done) return;
          a.done = true;
          cancel();
          resolve(ms);
        },
      };
      const queued = this.#input({
        run: () => {
          for (const m of messages) this.#raft.step(m);
          this.#answers.push(a);
        },
        cancel: () => a.resolve([]),
      });
      if (!queued) return a.resolve([]);
      if (!a.done) cancel = this.#clock.after(this.#answerWaitMs, () => a.resolve([]));
    });
  }

  /** Proposes a command; resolves when it is applied everywhere, or has definitely failed. */
  propose(cmd: C): Promise<Outcome> {
    return new Promise((resolve) => this.submit(cmd, resolve));
  }

  /** Proposes a membership change. */
  proposeChange(change: ConfChange): Promise<Outcome> {
    return new Promise((resolve) => this.submitChange(change, resolve));
  }

  /** propose() with a callback, called as soon as the outcome is known (the simulator runs without an event loop). */
  submit(cmd: C, done: (o: Outcome) => void): void {
    this.#proposal(() => this.#raft.propose(cmd), done);
  }

  /** proposeChange() with a callback (see submit). */
  submitChange(change: ConfChange, done: (o: Outcome) => void): void {
    this.#proposal(() => this.#raft.proposeChange(change), done);
  }

  /** Repairs this node's membership without quorum (see RaftNode.forceEdit). */
  forceEdit(remove: readonly number[]): Promise<void> {
    return this.#call(() => this.#raft.forceEdit(remove));
  }

  /**
   * Compacts the log into a snapshot of the applied state now (so a joining
   * node gets the state, not a replay; so deleted key material leaves the log).
   * Resolves once that snapshot, and the log's truncation, are on disk.
   */
  async compact(): Promise<void> {
    const index = await this.#call(() => {
      if (this.#raft.applied > this.#raft.snapshotIndex) this.#raft.compact(this.#raft.applied, this.#snapshotData());
      return this.#raft.snapshotIndex;
    });
    if (index <= this.#durableSnapshot) return;
    await new Promise<void>((resolve, reject) => this.#snapshotWaiters.push({ index, resolve, reject }));
  }

  /** The core's view of itself. */
  status(): Status {
    return this.#raft.status();
  }

  /** This node's role now (what status() says, without building the rest of it: asked on every write). */
  get role(): Status["role"] {
    return this.#raft.role;
  }

  /** Entries held but not applied yet (reads they touch must wait). */
  pending(): readonly Entry<C>[] {
    return this.#raft.pending();
  }

  /** Whether this node may answer reads at all. */
  readable(): boolean {
    return this.#raft.readable();
  }

  /** Highest index known committed. */
  commitIndex(): number {
    return this.#raft.commit;
  }

  /** Why the uncommitted entries this node holds cannot be settled now, or null (see RaftNode.unsettled). */
  unsettled(): string | null {
    return this.#raft.unsettled();
  }

  /** Resolves after the next handled Ready, or after `ms` at the latest. */
  changed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.#clock.after(ms, done);
      const off = this.onChange(done);
      function done() {
        cancel();
        off();
        resolve();
      }
    });
  }

  /** Calls `listener` after every handled Ready (pending entries may have changed). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #proposal(run: () => ProposeResult, resolve: (o: Outcome) => void): void {
    const stopping: Outcome = { ok: false, error: "unavailable", reason: "the node is stopping", leader: -1 };
    const queued = this.#input({
      run: () => {
        if (this.#draining) return resolve(stopping); // never appended
        const r = run();
        if (!r.ok) resolve(r);
        else this.#waiting.set(r.id, resolve);
      },
      cancel: () => resolve(stopping),
    });
    if (!queued) resolve({ ok: false, error: "unavailable", reason: "the node has stopped", leader: -1 });
  }

  /** Queues an input; false (and nothing queued) once the node has stopped. */
  #input(input: Input): boolean {
    if (this.#failure || this.#stopped) return false;
    this.#inbox.push(input);
    this.#kick();
    return true;
  }

  /** Starts the loop if inputs wait and nothing holds them (later, with a defer: more inputs may join). */
  #kick(): void {
    if (!this.#inbox.length || this.#busy || this.#paused || this.#held) return;
    if (!this.#defer) {
      this.#running = this.#loop();
      return;
    }
    if (this.#deferred) return;
    this.#deferred = true;
    this.#defer(() => {
      this.#deferred = false;
      if (this.#inbox.length && !this.#busy && !this.#paused && !this.#held) this.#running = this.#loop();
    });
  }

  /** Runs `fn` as an input and resolves with its result; rejects once the node has stopped. */
  #call<T>(fn: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const queued = this.#input({
        run: () => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        },
        cancel: () => reject(new Error("the node has stopped")),
      });
      if (!queued) reject(new Error("the node has stopped"));
    });
  }

  /** Answers queued inputs that will never run. */
  #cancelInbox(): void {
    for (const input of this.#inbox.splice(0)) input.cancel?.();
  }

  /** Answers every proposal in flight "unknown": its entry may commit elsewhere. */
  #answerUnknown(reason: string): void {
    for (const [, resolve] of this.#waiting) resolve({ ok: false, error: "unknown", reason, leader: -1 });
    this.#waiting.clear();
  }

  /** Handles Readies until none is left; synchronous when every adapter is. */
  #loop(): void | Promise<void> {
    return runMaybeAsync(this.#cycle());
  }

  *#cycle(): Generator<unknown, void, unknown> {
    this.#busy = true;
    try {
      for (;;) {
        // After a stop nothing more runs: what the core holds in memory only is lost, as in a crash.
        if (this.#stopped || this.#held) break;
        while (this.#inbox.length) this.#inbox.shift()!.run();
        if (!this.#raft.hasReady()) break;
        const rd = this.#raft.ready();
        this.#answering = this.#answers;
        this.#answers = [];
        // A leader's appends go out while its own log is written (see Ready.sendFirst)...
        const first = rd.sendFirst && rd.messages.length > 0;
        // ...but news of the commit alone waits until the proposers are answered: no write waits for it.
        const news = first && rd.committed.length > 0 && this.#answering.length === 0 &&
          rd.messages.every((m) => m.type === "append" && m.entries.length === 0);
        if (first && !news) this.#sendOrAnswer(rd.messages);
        yield this.#storage.write(rd.persist); // durable before anything depending on it leaves
        if (rd.persist.snapshot) this.#snapshotSaved(rd.persist.snapshot.index);
        if (!first) this.#sendOrAnswer(this.#app.isReference ? this.#materialized(rd.messages) : rd.messages);
        if (rd.restore) {
          yield this.#app.restore(rd.restore);
          this.#appApplied = rd.restore.index;
        }
        if (rd.committed.length) {
          for (const [i, e] of (yield this.#app.apply(rd.committed)) as Map<number, Error>) this.#errors.set(i, e);
          this.#appApplied = rd.committed[rd.committed.length - 1].index;
        }
        for (const r of rd.resolved) {
          const resolve = this.#waiting.get(r.id);
          this.#waiting.delete(r.id);
          if (!resolve) continue;
          if (r.ok && r.covered) {
            // Committed, but never applied here: whether it succeeded is not known, so "ok" would be a guess.
            const reason = `entry ${r.index} committed, but this node installed a snapshot before applying it: its result is not known here`;
            resolve({ ok: false, error: "unknown", reason, leader: this.#raft.leader });
          } else if (r.ok) {
            resolve({ ok: true, index: r.index, error: this.#errors.get(r.index) });
            this.#errors.delete(r.index);
          } else resolve({ ok: false, error: r.error, reason: r.reason, leader: this.#raft.leader });
        }
        if (news) this.#later(() => this.#send(rd.messages));
        this.#raft.advance();
        // A peer waits for the whole state: compact now (once), so the snapshot it is sent next is the state's.
        const compact = this.#peerWaits === "wanted" || this.#shouldCompact(this.#raft.applied, this.#raft.snapshotIndex);
        if (compact && this.#raft.applied > this.#raft.snapshotIndex) {
          this.#raft.compact(this.#raft.applied, this.#snapshotData());
          if (this.#peerWaits === "wanted") this.#peerWaits = "stored";
        }
        this.#notify();
        this.#prune();
      }
    } catch (err) {
      // A disk or apply failure leaves memory and disk in doubt: stop this node.
      // Writes in flight may still commit on the others: their outcome is unknown.
      this.#failure = err;
      this.#stopped = true;
      this.#stopTicking?.();
      this.#cancelInbox();
      this.#answerUnknown("the node failed");
      this.#notify();
      this.#onFatal(err);
    } finally {
      this.#answerNothing(); // inputs that produced no Ready (or ran before a stop) have nothing to say
      this.#busy = false;
    }
  }

  /**
   * Hands each answer() caller of this Ready the messages to its peer (the
   * first caller per peer takes them all, the others none) and sends the rest.
   */
  #sendOrAnswer(messages: readonly Message<C>[]): void {
    let rest = messages;
    for (const a of this.#answering.splice(0)) {
      if (a.done) continue; // given up past the bound: its messages are sent
      const mine = rest.filter((m) => m.to === a.to);
      if (mine.length) rest = rest.filter((m) => m.to !== a.to);
      a.resolve(mine);
    }
    if (rest.length) this.#send(rest);
  }

  /** Runs `fn` once the proposers just answered have had their turn (with a defer; at once without one), unless the node stops first. */
  #later(fn: () => void): void {
    if (!this.#defer) return fn();
    this.#defer(() => {
      if (!this.#stopped) fn();
    });
  }

  /** Answers the answer() callers still waiting: nothing (their peer's core retries what matters). */
  #answerNothing(): void {
    for (const a of this.#answering.splice(0)) a.resolve([]);
    for (const a of this.#answers.splice(0)) a.resolve([]);
  }

  /** What a compaction stores: a reference to the application's state when it can, unless a peer waits for the whole state. */
  #snapshotData(): Uint8Array {
    return this.#app.reference && this.#peerWaits === "no" ? this.#app.reference() : this.#app.snapshot();
  }

  /**
   * The messages with every reference snapshot replaced by the whole state:
   * taken now when the application's state is exactly at the snapshot's
   * index; otherwise the message is dropped and the next compaction stores
   * the whole state (the core sends it again after snapshotRetryTicks).
   */
  #materialized(messages: readonly Message<C>[]): Message<C>[] {
    const out: Message<C>[] = [];
    let data: Uint8Array | undefined;
    for (const m of messages) {
      if (m.type !== "snapshot" || !this.#app.isReference!(m.snapshot.data)) {
        if (m.type === "snapshot") this.#peerWaits = "no"; // the whole state leaves: compactions may refer again
        out.push(m);
      } else if (m.snapshot.index === this.#appApplied) {
        data ??= this.#app.snapshot();
        out.push({ ...m, snapshot: { ...m.snapshot, data } });
        this.#peerWaits = "no";
      } else if (this.#peerWaits === "no") this.#peerWaits = "wanted";
    }
    return out;
  }

  /** Records that the snapshot at `index` is on disk and releases the compact() calls it satisfies. */
  #snapshotSaved(index: number): void {
    this.#durableSnapshot = Math.max(this.#durableSnapshot, index);
    const done = this.#snapshotWaiters.filter((w) => w.index <= this.#durableSnapshot);
    this.#snapshotWaiters = this.#snapshotWaiters.filter((w) => w.index > this.#durableSnapshot);
    for (const w of done) w.resolve();
  }

  /** Waits until no Ready is being handled. */
  async #idle(): Promise<void> {
    while (this.#busy) await this.#running;
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  // Errors of entries proposed elsewhere are never asked for: keep only recent ones.
  #prune(): void {
    if (this.#errors.size < 4096) return;
    const floor = this.#raft.applied - 1024;
    for (const i of this.#errors.keys()) if (i < floor) this.#errors.delete(i);
  }
}
