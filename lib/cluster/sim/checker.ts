/**
 * The invariants of the replication core, checked as the simulation runs. It
 * holds the one true commit history (the first node to commit an index fixes
 * it; every other commit, apply, acknowledgement and read must agree with it).
 */
import type { Entry } from "../types.ts";
import { chain, entryId, type KvApp, type KvCmd, type KvVersion } from "./kv.ts";

/** A broken invariant: the message says which and where. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

/** Counters reported at the end of a run. */
export interface CheckStats {
  acked: number;
  failed: number;
  reads: number;
  readsBlocked: number;
  readsRefused: number;
}

/** The history and the rules every node's behaviour is held to. */
export class Checker {
  /** history[i]: id of the entry committed at index i (history[0] unused). */
  readonly history: string[] = [""];
  /** hashes[i]: hash of the applied state after index i. */
  readonly hashes: number[] = [0];
  readonly #opAt: number[] = [0];
  readonly #leaders = new Map<number, number>();
  readonly #keyOf = new Map<number, string>();
  readonly #committedOps = new Map<number, number>();
  readonly #failed = new Set<number>();
  readonly #floor = new Map<string, number>();
  readonly stats: CheckStats = { acked: 0, failed: 0, reads: 0, readsBlocked: 0, readsRefused: 0 };

  /** Raises an invariant violation. */
  #fail(what: string): never {
    throw new InvariantError(what);
  }

  /** Index of the last committed entry. */
  get commitIndex(): number {
    return this.history.length - 1;
  }

  /** A node is leader of `term`: no other node may ever be. */
  leader(term: number, id: number): void {
    const other = this.#leaders.get(term);
    if (other === undefined) this.#leaders.set(term, id);
    else if (other !== id) this.#fail(`two leaders in term ${term}: ${other} and ${id}`);
  }

  /** A client wrote op to key (remembered to check acks and reads). */
  proposed(op: number, key: string): void {
    this.#keyOf.set(op, key);
  }

  /** Node `node` knows `e` is committed: it must be the history's entry, or extend it by one. */
  committed(node: number, e: Entry<KvCmd>): void {
    const id = entryId(e);
    if (e.index < this.history.length) {
      if (this.history[e.index] !== id) this.#fail(`node ${node} committed ${id} at ${e.index}, history has ${this.history[e.index]}`);
      return;
    }
    if (e.index !== this.history.length) this.#fail(`node ${node} committed index ${e.index} past the history's end ${this.commitIndex}`);
    const op = e.type === "cmd" ? e.cmd.op : 0;
    if (op) {
      if (this.#failed.has(op)) this.#fail(`write ${op} committed at ${e.index} after it was reported failed`);
      if (this.#committedOps.has(op)) this.#fail(`write ${op} committed twice (${this.#committedOps.get(op)} and ${e.index})`);
      this.#committedOps.set(op, e.index);
    }
    this.history.push(id);
    this.#opAt.push(op);
    this.hashes.push(chain(this.hashes[this.hashes.length - 1], id));
  }

  /** Node `node` applied `e`: its state must be exactly the history's prefix. */
  applied(node: number, e: Entry<KvCmd>, app: KvApp): void {
    if (e.index >= this.history.length) this.#fail(`node ${node} applied ${e.index} beyond the commit history ${this.commitIndex}`);
    if (this.history[e.index] !== entryId(e)) this.#fail(`node ${node} applied ${entryId(e)} at ${e.index}, history has ${this.history[e.index]}`);
    if (app.hash !== this.hashes[e.index]) this.#fail(`node ${node} state after ${e.index} differs from the history's`);
  }

  /** Node `node` loaded a snapshot: the state must be the history's at that index. */
  restored(node: number, app: KvApp): void {
    if (app.applied >= this.history.length) this.#fail(`node ${node} restored a snapshot at ${app.applied} beyond the history ${this.commitIndex}`);
    if (app.hash !== this.hashes[app.applied]) this.#fail(`node ${node} restored a snapshot at ${app.applied} that differs from the history`);
  }

  /** A write was acknowledged at `index`: it must be there, for good; reads must see it from now on. */
  acked(op: number, index: number): void {
    this.stats.acked++;
    if (this.#opAt[index] !== op) this.#fail(`write ${op} acknowledged at ${index}, history has ${this.history[index] ?? "nothing"}`);
    const key = this.#keyOf.get(op)!;
    this.#floor.set(key, Math.max(this.#floor.get(key) ?? 0, index));
  }

  /** A write was reported failed: it must never commit. */
  failed(op: number): void {
    this.stats.failed++;
    if (this.#committedOps.has(op)) this.#fail(`write ${op} reported failed but committed at ${this.#committedOps.get(op)}`);
    this.#failed.add(op);
  }

  /** The oldest version a read of `key` that starts now may return. */
  floor(key: string): number {
    return this.#floor.get(key) ?? 0;
  }

  /** A node answered a read that started when the floor was `floor`. */
  read(node: number, key: string, v: KvVersion, floor: number): void {
    this.stats.reads++;
    if (v.index < floor) this.#fail(`stale read on node ${node}: ${key} at index ${v.index}, but index ${floor} was acknowledged or seen before the read`);
    if (v.index > 0 && (this.#opAt[v.index] !== v.op || this.#keyOf.get(v.op) !== key)) {
      this.#fail(`node ${node} read ${key} = write ${v.op}@${v.index}, which the history does not hold`);
    }
    this.#floor.set(key, Math.max(this.floor(key), v.index));
  }
}
