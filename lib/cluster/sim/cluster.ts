/**
 * A simulated cluster: real RaftNodes, each run by the server's own Driver
 * (persist, then send, then restore/apply, then report, then advance) over
 * a stepped clock, in-memory storage and a faulty simulated network, with
 * crashes that lose whatever was not yet persisted (also in the middle of a
 * Ready), and clients that write and read at random nodes. The adapters are
 * synchronous, so the driver runs synchronously and a step is one plain call.
 * Every random choice comes from one seeded PRNG, so a seed replays a run.
 */
import { SteppedClock } from "../clock.ts";
import { type Application, Driver, type Outcome } from "../driver.ts";
import { RaftNode } from "../node.ts";
import { Prng } from "../prng.ts";
import { bootstrapState, freshState, MemoryStorage, type RaftStorage } from "../storage.ts";
import { type ConfChange, type Durable, type Entry, type Member, type Message, NONE, type Persist } from "../types.ts";
import { Checker } from "./checker.ts";
import { KvApp, type KvCmd } from "./kv.ts";
import { type NetFaults, SimNetwork } from "./network.ts";
import { blocker, keysOf, LIST, type ReadRule } from "./reads.ts";

/** How one run behaves: cluster size, fault rates (per step), client load, timeouts. */
export interface SimParams {
  nodes: number;
  maxNodes: number;
  net: NetFaults;
  crash: number;
  restart: number;
  midReadyCrash: number;
  partition: number;
  heal: number;
  writes: number;
  reads: number;
  conf: number;
  compact: number;
  electionTicks: number;
  heartbeatTicks: number;
  proposalTicks: number;
  joinTicks: number;
  maxApply: number;
  /** Compactions store a reference to the application's durable state (Application.reference), as the server's do. */
  references: boolean;
}

/** What a compaction stores when the run uses references: not JSON, so never KvApp's snapshot bytes. */
const REFERENCE = new TextEncoder().encode("@sim/app");

/** Whether snapshot bytes are REFERENCE. */
function isReference(data: Uint8Array): boolean {
  return data.length === REFERENCE.length && data.every((b, i) => b === REFERENCE[i]);
}

/** Keys the simulated clients use (few, so reads and writes collide often). */
export const KEYS = ["a", "b", "c", "d", "e"];

/** Steps a blocked read may wait before its client gives up. */
export const READ_TIMEOUT_STEPS = 100;

/** Parameters drawn at random for a seed ("swarm testing": each seed stresses different faults). */
export function randomParams(rng: Prng): SimParams {
  const crash = rng.pick([0, 0.002, 0.01, 0.03]);
  return {
    nodes: rng.pick([1, 2, 3, 3, 3, 4, 5, 5]),
    maxNodes: 7,
    net: { drop: rng.pick([0, 0.01, 0.05, 0.2]), dup: rng.pick([0, 0.02, 0.1]), delayMax: rng.pick([1, 2, 3, 6]) },
    crash,
    restart: rng.pick([0.02, 0.1, 0.3]),
    midReadyCrash: crash > 0 ? rng.pick([0, 0.002, 0.01]) : 0,
    partition: rng.pick([0, 0.005, 0.02]),
    heal: rng.pick([0.02, 0.1]),
    writes: rng.pick([0.1, 0.4, 0.9]),
    reads: rng.pick([0.2, 0.8]),
    conf: rng.pick([0, 0.005, 0.02]),
    compact: rng.pick([0, 0.05, 0.3]),
    electionTicks: 10,
    heartbeatTicks: rng.pick([1, 2, 3]),
    proposalTicks: rng.pick([15, 30]),
    joinTicks: 60,
    maxApply: rng.pick([3, 256]),
    references: rng.chance(0.5),
  };
}

/** Parameters without any random fault or client, for scripted scenarios. */
export function quietParams(nodes: number): SimParams {
  return {
    nodes, maxNodes: 7, net: { drop: 0, dup: 0, delayMax: 1 }, crash: 0, restart: 0, midReadyCrash: 0, partition: 0, heal: 0,
    writes: 0, reads: 0, conf: 0, compact: 0, electionTicks: 10, heartbeatTicks: 1, proposalTicks: 20, joinTicks: 60, maxApply: 256,
    references: false,
  };
}

/** One simulated node: its core and driver (null while crashed), storage, application and clients' bookkeeping. */
export interface SimNode {
  readonly id: number;
  readonly rng: Prng;
  readonly storage: MemoryStorage<KvCmd>;
  /** The core, for the checks to read (every input goes through the driver). */
  raft: RaftNode<KvCmd> | null;
  driver: Driver<KvCmd> | null;
  clock: SteppedClock;
  app: KvApp;
  /** The application as of the last persisted Ready: what a reference snapshot stands for after a crash (the server's state records). */
  durable: KvApp;
  /** Client writes (op numbers) and membership changes (negative tokens) proposed at this node whose outcome is not known yet. */
  props: Set<number>;
  /** Reads waiting for pending entries: their target (a key or LIST), the floor of each key read, their start. */
  blocked: { key: string; floors: readonly number[]; start: number }[];
  /** Highest commit index of this node already checked against the history. */
  checked: number;
  /** Role and term last seen (for the trace). */
  seen: string;
  /** Snapshots received and loaded. */
  restores: number;
  /** Probability that this node's clock ticks in a step (clocks drift). */
  readonly tickRate: number;
}

/** A crash the simulator injects in the middle of a Ready (the driver then stops, as on a disk failure). */
class SimCrash extends Error {}

const NO_ERRORS: Map<number, Error> = new Map();

/** The simulated world. */
export class SimCluster {
  readonly rng: Prng;
  readonly p: SimParams;
  readonly net: SimNetwork<KvCmd>;
  readonly checker = new Checker();
  readonly nodes = new Map<number, SimNode>();
  readonly trace: string[] | null;
  now = 0;
  #nextOp = 1;
  #nextId: number;
  /** Outcome of membership changes, for scenario tests. */
  readonly confResults: { change: ConfChange; ok: boolean }[] = [];
  /** Set by a client write whose ack was seen (op → index), for scenario tests and liveness. */
  readonly acks = new Map<number, number>();
  /** Which pending entries reads wait for (scenario tests switch to the old rule to show the invariants catch it). */
  readRule: ReadRule = "object";
  readonly fails = new Set<number>();

  /** A cluster of `p.nodes` members, all bootstrapped with the same membership. */
  constructor(rng: Prng, p: SimParams, trace = false) {
    this.rng = rng;
    this.p = p;
    this.trace = trace ? [] : null;
    this.net = new SimNetwork(rng.fork(), { ...p.net });
    const members: Member[] = [];
    for (let id = 1; id <= p.nodes; id++) members.push({ id, addr: `sim-${id}` });
    for (const m of members) this.#create(m.id, bootstrapState(members, new Uint8Array(0)));
    this.#nextId = p.nodes + 1;
  }

  /** Records a trace line (only when tracing). */
  log(line: string): void {
    this.trace?.push(`${this.now} ${line}`);
  }

  #create(id: number, d: Durable<KvCmd>): SimNode {
    const n: SimNode = {
      id, rng: this.rng.fork(), storage: new MemoryStorage(d), raft: null, driver: null, clock: new SteppedClock(), app: new KvApp(), durable: new KvApp(), props: new Set(),
      blocked: [], checked: 0, seen: "", restores: 0, tickRate: this.rng.pick([1, 0.95, 0.8]),
    };
    this.nodes.set(id, n);
    this.restart(n);
    return n;
  }

  /** Live nodes, in id order. */
  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  /** Restarts a crashed node from its storage. */
  restart(n: SimNode): void {
    const d = n.storage.load();
    // Half the time the application's state survived too (as the server's libSQL state does): resume from it.
    const keep = n.app.applied >= d.snapshot.index && this.rng.chance(0.5);
    if (keep && n.app.applied > d.hard.commit) throw new Error(`sim: node ${n.id} applied ${n.app.applied} beyond its durable commit ${d.hard.commit}`);
    if (!keep) n.app = isReference(d.snapshot.data) ? n.durable.clone() : KvApp.restore(d.snapshot.data);
    if (n.app.applied < d.snapshot.index) throw new Error(`sim: node ${n.id} restarts at ${n.app.applied}, behind its snapshot ${d.snapshot.index}`);
    const raft = new RaftNode<KvCmd>({
      id: n.id, cluster: "sim", random: (k) => n.rng.int(k), applied: n.app.applied, electionTicks: this.p.electionTicks,
      heartbeatTicks: this.p.heartbeatTicks, proposalTicks: this.p.proposalTicks, joinTicks: this.p.joinTicks,
      snapshotRetryTicks: 15, maxEntriesPerMsg: 16, maxInflightMsgs: 4, maxApplyPerReady: this.p.maxApply,
    }, d);
    this.checker.restored(n.id, n.app);
    this.log(`n${n.id} start term=${d.hard.term} commit=${d.hard.commit} entries=${d.entries.length} snap=${d.snapshot.index} applied=${n.app.applied}`);
    n.raft = raft;
    n.clock = new SteppedClock();
    const driver = new Driver<KvCmd>(raft, this.#storage(n), this.#app(n), (ms) => this.#send(ms), (err) => this.#fatal(n, driver, err), {
      clock: n.clock,
      compact: (applied, snapshotIndex) => this.rng.chance(this.p.compact) && applied - snapshotIndex >= 8,
    });
    n.driver = driver;
    driver.onChange(() => {
      if (n.driver !== driver || driver.stopped) return;
      if (n.app.applied !== raft.applied) throw new Error(`sim: node ${n.id} app at ${n.app.applied}, core at ${raft.applied}`);
      this.#after(n);
    });
    driver.start(1);
  }

  /** The node's storage as the driver sees it: a crash may strike before a Ready is persisted. */
  #storage(n: SimNode): RaftStorage<KvCmd> {
    return {
      load: () => n.storage.load(),
      write: (p: Persist<KvCmd>) => {
        if (this.rng.chance(this.p.midReadyCrash)) throw new SimCrash("nothing of the Ready persisted or sent");
        n.storage.write(p);
        // Applied state rides with the next persisted write (the server's unsynced state records).
        if (this.p.references) n.durable = n.app.clone();
      },
    };
  }

  /** The node's application: the key-value map, every change checked. */
  #app(n: SimNode): Application<KvCmd> {
    return {
      apply: (entries: readonly Entry<KvCmd>[]) => {
        this.#after(n); // what the core now knows committed enters the history before it is applied
        for (const e of entries) {
          n.app.apply(e);
          this.checker.applied(n.id, e, n.app);
        }
        return NO_ERRORS;
      },
      restore: (snapshot) => {
        if (isReference(snapshot.data)) throw new Error(`sim: node ${n.id} was sent a reference snapshot`);
        n.app = KvApp.restore(snapshot.data);
        n.restores++;
        this.checker.restored(n.id, n.app);
        this.log(`n${n.id} restored snapshot ${snapshot.index}`);
      },
      snapshot: () => n.app.snapshot(),
      ...(this.p.references ? { reference: () => REFERENCE, isReference } : {}),
    };
  }

  /** The transport: a crash may strike after a Ready is persisted but before it is sent. */
  #send(messages: readonly Message<KvCmd>[]): void {
    if (this.rng.chance(this.p.midReadyCrash)) throw new SimCrash("persisted, never sent");
    for (const m of messages) this.net.send(m, this.now);
  }

  /** A driver stopped on a failure: an injected crash takes the node down; anything else is a bug. */
  #fatal(n: SimNode, driver: Driver<KvCmd>, err: unknown): void {
    if (!(err instanceof SimCrash)) throw err;
    if (n.driver !== driver) return;
    this.log(`n${n.id} CRASH mid-Ready (${err.message})`);
    this.#down(n);
  }

  /** Crashes a node: everything not yet persisted is gone, its clients get errors. */
  crash(n: SimNode): void {
    if (!n.driver) return;
    this.log(`n${n.id} CRASH`);
    const driver = n.driver;
    this.#down(n);
    void driver.stop(); // idle, so at once: proposals in flight are answered "unknown"
  }

  #down(n: SimNode): void {
    n.raft = null;
    n.driver = null;
    n.props.clear();
    n.blocked = [];
  }

  /**
   * Stops a node the way a server stops: its waiting writers get an answer,
   * then it is gone. "unknown" is the truth (the entries may commit without
   * it); "failed" is what the driver used to say, kept to show the checker
   * catches it.
   */
  stop(n: SimNode, answer: "failed" | "unknown"): void {
    if (!n.raft) return;
    for (const op of n.props) {
      if (op < 0 || answer !== "failed") continue;
      this.checker.failed(op);
      this.fails.add(op);
    }
    this.log(`n${n.id} STOP (writers told ${answer})`);
    this.crash(n);
  }

  /** Checks what can be checked about a node right after it took an input. */
  #after(n: SimNode): void {
    const r = n.raft!;
    if (r.role === "leader") this.checker.leader(r.term, n.id);
    if (this.trace) {
      const seen = `${r.role} t${r.term} leader=${r.leader} last=${r.lastIndex} commit=${r.commit}`;
      if (seen !== n.seen) this.log(`n${n.id} ${seen}`);
      n.seen = seen;
    }
    for (let i = n.checked + 1; i <= r.commit; i++) {
      const e = r.entry(i);
      if (e) this.checker.committed(n.id, e);
    }
    n.checked = Math.max(n.checked, r.commit);
  }

  /** The outcome of client write `op` proposed at `n`: acknowledged, failed (definitely), or unknown (no answer). */
  #outcome(n: SimNode, op: number, o: Outcome): void {
    n.props.delete(op);
    if (o.ok) {
      this.checker.acked(op, o.index);
      this.acks.set(op, o.index);
    } else if (o.error !== "unknown") {
      this.checker.failed(op);
      this.fails.add(op);
    }
    this.log(`n${n.id} write ${op} ${o.ok ? `ok@${o.index}` : `${o.error === "unknown" ? "unknown" : "failed"}: ${o.reason}`}`);
  }

  /** Delivers one message; most of the time its Ready is handled at once, else with the rest of the step's. */
  #deliver(m: Message<KvCmd>): void {
    const n = this.nodes.get(m.to);
    if (!n?.driver) return;
    n.driver.step(m);
    if (this.rng.chance(0.7)) n.driver?.release();
  }

  /** The leader a client at `n` would reach (itself, or its known leader if reachable). */
  leaderFor(n: SimNode): SimNode | null {
    const r = n.raft;
    if (!r) return null;
    if (r.role === "leader") return n;
    const l = r.leader === NONE ? undefined : this.nodes.get(r.leader);
    return l?.raft && l.raft.role === "leader" && this.net.connected(n.id, l.id) ? l : null;
  }

  /** Some node's view of the leader (via a random live node), or null. */
  someLeader(): SimNode | null {
    const live = this.live();
    return live.length ? this.leaderFor(this.rng.pick(live)) : null;
  }

  /** A client writes a fresh op to `key` through node `via`; returns the op number. */
  write(via: SimNode, key: string): number {
    const op = this.#nextOp++;
    this.checker.proposed(op, key);
    const l = this.leaderFor(via);
    if (!l) {
      this.checker.failed(op);
      this.fails.add(op);
      return op;
    }
    this.log(`client write ${op} ${key} via n${via.id} → n${l.id}`);
    l.props.add(op);
    l.driver!.submit({ op, key }, (o) => this.#outcome(l, op, o));
    return op;
  }

  /** A client reads `key` (or LIST: every key) at node `n`: answered now, blocked behind pending entries, or refused. */
  read(n: SimNode, key: string): "served" | "blocked" | "refused" {
    const r = n.raft;
    if (!r || !r.readable()) {
      this.checker.stats.readsRefused++;
      return "refused";
    }
    const keys = keysOf(key, KEYS);
    const floors = keys.map((k) => this.checker.floor(k));
    if (this.blocks(n, key)) {
      this.checker.stats.readsBlocked++;
      n.blocked.push({ key, floors, start: this.now });
      return "blocked";
    }
    this.#serve(n, keys, floors);
    return "served";
  }

  /** True if a read of `key` at `n` must wait for a pending entry. */
  blocks(n: SimNode, key: string): boolean {
    return blocker(this.readRule, n.raft!.pending(), key) !== undefined;
  }

  #serve(n: SimNode, keys: readonly string[], floors: readonly number[]): void {
    keys.forEach((k, i) => this.checker.read(n.id, k, n.app.read(k), floors[i]));
  }

  #retryReads(): void {
    for (const n of this.nodes.values()) {
      if (!n.raft || n.blocked.length === 0) continue;
      const ok = n.raft.readable();
      n.blocked = n.blocked.filter((b) => {
        if (this.now - b.start > READ_TIMEOUT_STEPS) return false;
        if (!ok || this.blocks(n, b.key)) return true;
        this.#serve(n, keysOf(b.key, KEYS), b.floors);
        return false;
      });
    }
  }

  /** Cuts node `id` off from every other node (both directions). */
  isolate(id: number): void {
    this.net.partition([...this.nodes.keys()], new Map([[id, 1]]));
    this.log(`isolate n${id}`);
  }

  /** The live leader of the highest term, if any. */
  leader(): SimNode | null {
    let l: SimNode | null = null;
    for (const n of this.live()) if (n.raft!.role === "leader" && (!l || n.raft!.term > l.raft!.term)) l = n;
    return l;
  }

  /** Steps (without random faults or clients) until `done` holds; throws after `max` steps. */
  until(done: () => boolean, max: number, what: string): number {
    for (let i = 0; i < max; i++) {
      if (done()) return i;
      this.step({ faults: false, writes: false });
    }
    if (done()) return max;
    throw new Error(`sim: not ${what} after ${max} steps (${this.unsettled() ?? "settled"})`);
  }

  /** Asks the leader (as seen from a random node) to add a fresh node; returns its id or null. */
  addNode(): number | null {
    const l = this.someLeader();
    if (!l || this.nodes.size >= this.p.maxNodes) return null;
    const id = this.#nextId++; // ids are never reused
    const n = this.#create(id, freshState());
    const change: ConfChange = { op: "add", id, addr: `sim-${id}` };
    if (!this.#change(l, change)) {
      this.nodes.delete(n.id);
      return null;
    }
    return id;
  }

  /** Asks the leader to remove member `id` (random if omitted); true if accepted. */
  removeNode(id?: number): boolean {
    const l = this.someLeader();
    if (!l) return false;
    const ms = l.raft!.status().members;
    const victim = id ?? this.rng.pick(ms).id;
    return this.#change(l, { op: "remove", id: victim });
  }

  /** Proposes a membership change at leader `l`; false if refused at once. Outcomes land in confResults. */
  #change(l: SimNode, change: ConfChange): boolean {
    let now = true;
    let refused = false;
    const token = -this.#nextOp++;
    l.props.add(token);
    l.driver!.submitChange(change, (o) => {
      l.props.delete(token);
      if (now && !o.ok) {
        refused = true;
        this.log(`client ${change.op} n${change.id} via n${l.id}: ${o.error} (${o.reason})`);
        return;
      }
      if (!o.ok && o.error === "unknown") return; // the leader went down: nobody tells the client
      this.confResults.push({ change, ok: o.ok });
      this.log(`n${l.id} conf ${change.op} ${change.id} ${o.ok ? "ok" : `failed: ${o.reason}`}`);
    });
    now = false;
    if (!refused) this.log(`client ${change.op} n${change.id} via n${l.id}: accepted`);
    return !refused;
  }

  /** Random faults for this step: restarts, partitions and heals. */
  #faults(): void {
    for (const n of this.nodes.values()) if (!n.raft && this.rng.chance(this.p.restart)) this.restart(n);
    if (!this.net.partitioned && this.rng.chance(this.p.partition)) {
      const ids = [...this.nodes.keys()];
      const kind = this.rng.int(3);
      if (kind === 0) this.isolate(this.rng.pick(ids));
      else if (kind === 1) {
        const groups = new Map(ids.map((id) => [id, this.rng.int(2)]));
        this.net.partition(ids, groups);
        this.log(`partition ${[...groups].map(([id, g]) => `n${id}:${g}`).join(" ")}`);
      } else {
        const id = this.rng.pick(ids);
        const dir = this.rng.chance(0.5) ? "in" : "out";
        this.net.cutOneWay(ids, id, dir);
        this.log(`cut n${id} ${dir}bound`);
      }
    } else if (this.net.partitioned && this.rng.chance(this.p.heal)) {
      this.net.heal();
      this.log("heal");
    }
  }

  /** Random client activity for this step. */
  #clients(writes: boolean): void {
    const live = this.live();
    if (live.length === 0) return;
    if (writes && this.rng.chance(this.p.writes)) {
      const burst = this.rng.chance(0.1) ? 2 + this.rng.int(12) : 1; // sometimes many at once: batching, pipelining
      for (let i = 0; i < burst; i++) this.write(this.rng.pick(live), this.rng.pick(KEYS));
    }
    if (this.rng.chance(this.p.reads)) this.read(this.rng.pick(live), this.rng.chance(0.1) ? LIST : this.rng.pick(KEYS));
    if (this.rng.chance(this.p.reads / 4)) {
      const key = this.rng.pick(KEYS); // the same key everywhere: probes the window between first and last apply
      for (const n of live) this.read(n, key);
    }
    if (writes && this.rng.chance(this.p.conf)) {
      if (this.rng.chance(0.5)) this.addNode();
      else this.removeNode();
    }
  }

  /** One unit of simulated time: faults, clients, deliveries, ticks, a possible crash, Ready handling. */
  step(opts: { faults?: boolean; writes?: boolean } = {}): void {
    const faults = opts.faults ?? true;
    this.now++;
    if (faults) this.#faults();
    this.#clients(opts.writes ?? true);
    // From here inputs wait in each driver's queue until released (all of them at the end of the step).
    for (const n of this.live()) n.driver?.hold();
    for (const m of this.net.due(this.now)) this.#deliver(m);
    for (const n of this.live()) {
      if (!this.rng.chance(n.tickRate)) continue;
      n.clock.tick();
    }
    if (faults && this.rng.chance(this.p.crash)) {
      const live = this.live();
      if (this.rng.chance(0.05)) for (const n of live) this.crash(n); // a power cut: every node at once
      else if (live.length) this.crash(this.rng.pick(live)); // loses whatever was stepped but not persisted
    }
    for (const n of this.live()) n.driver?.release();
    this.#retryReads();
  }

  /** Ends every fault: restarts crashed nodes, heals partitions, makes the network reliable. */
  healAll(): void {
    this.p.midReadyCrash = 0; // first: a restarted node handles a Ready at once
    for (const n of this.nodes.values()) if (!n.raft) this.restart(n);
    this.net.heal();
    this.net.faults = { drop: 0, dup: 0, delayMax: Math.min(this.net.faults.delayMax, 2) };
    this.log("HEAL ALL");
  }

  /** Why the cluster has not converged yet, or null once it has (one leader, all members equal, all settled). */
  unsettled(): string | null {
    const l = this.leader();
    if (!l) return "no leader";
    const lr = l.raft!;
    if (!lr.writable()) return `leader n${l.id} not writable`;
    if (lr.commit !== lr.lastIndex) return `leader n${l.id} commit ${lr.commit} < last ${lr.lastIndex}`;
    for (const m of lr.status().members) {
      const n = this.nodes.get(m.id);
      const r = n?.raft;
      if (!r) return `member n${m.id} down`;
      if (r.leader !== l.id || r.term !== lr.term) return `member n${m.id} follows ${r.leader} in term ${r.term}`;
      if (r.applied !== lr.lastIndex || r.lastIndex !== lr.lastIndex) return `member n${m.id} at ${r.applied}/${r.lastIndex}, leader at ${lr.lastIndex}`;
      if (!r.readable()) return `member n${m.id} not readable`;
      if (n.blocked.length) return `member n${m.id} has blocked reads`;
    }
    for (const n of this.live()) if (n.props.size) return `n${n.id} has unresolved proposals`;
    return null;
  }
}
