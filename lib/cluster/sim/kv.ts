/**
 * The simulator's application: a key → last-writer map. Each write is unique
 * (its op number), so a read reveals exactly which write it saw and at which
 * log index. A running hash of applied entries proves two states equal.
 */
import type { Entry } from "../types.ts";

/** A simulated client write: key := op (op numbers are unique per run). */
export interface KvCmd {
  readonly op: number;
  readonly key: string;
}

/** The write a key currently shows: its op and the log index that applied it. */
export interface KvVersion {
  readonly op: number;
  readonly index: number;
}

/** A string naming an entry exactly (two entries at one index must agree on it). */
export function entryId(e: Entry<KvCmd>): string {
  if (e.type === "cmd") return `${e.term}:w${e.cmd.op}`;
  if (e.type === "noop") return `${e.term}:noop`;
  return `${e.term}:${e.change.op}${e.change.id}`;
}

/** One step of a 32-bit FNV-1a hash chain over entry ids. */
export function chain(h: number, id: string): number {
  let x = (h ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return x;
}

/** The replicated state of one simulated node. */
export class KvApp {
  applied = 0;
  hash = 0;
  readonly kv = new Map<string, KvVersion>();

  /** Applies the next committed entry (must be exactly applied + 1). */
  apply(e: Entry<KvCmd>): void {
    if (e.index !== this.applied + 1) throw new Error(`sim: apply ${e.index} after ${this.applied}`);
    if (e.type === "cmd") this.kv.set(e.cmd.key, { op: e.cmd.op, index: e.index });
    this.hash = chain(this.hash, entryId(e));
    this.applied = e.index;
  }

  /** The version a read of `key` returns (index 0: never written). */
  read(key: string): KvVersion {
    return this.kv.get(key) ?? { op: 0, index: 0 };
  }

  /** The state as opaque bytes. */
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ applied: this.applied, hash: this.hash, kv: [...this.kv] }));
  }

  /** An independent copy. */
  clone(): KvApp {
    return KvApp.restore(this.snapshot());
  }

  /** A state loaded from snapshot bytes (empty bytes: the empty state). */
  static restore(data: Uint8Array): KvApp {
    const app = new KvApp();
    if (data.length === 0) return app;
    const s = JSON.parse(new TextDecoder().decode(data)) as { applied: number; hash: number; kv: [string, KvVersion][] };
    app.applied = s.applied;
    app.hash = s.hash;
    for (const [k, v] of s.kv) app.kv.set(k, v);
    return app;
  }
}
