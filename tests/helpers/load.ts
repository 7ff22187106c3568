/**
 * A read, crypto and write load on a cluster's nodes, for tests that must show
 * an operation (a backup, an HSM key rotation) fails no read or crypto call.
 * Each node gets its own client (no failover), so a node that fails a call
 * is seen failing it.
 */
import { randomBytes } from "node:crypto";
import type { KmsClient } from "../../lib/client/client.ts";

/** What the load did: counts, and the first failures of each kind with their messages. */
export interface LoadReport {
  readonly reads: number;
  readonly crypto: number;
  readonly writes: number;
  readonly failedReads: string[];
  readonly failedCrypto: string[];
  readonly failedWrites: string[];
}

/** A running load. */
export interface Load {
  /** Routes nothing more to client i (as a load balancer drains a node before it stops); resolves once its request in flight is answered. */
  pause(i: number): Promise<void>;
  /** Routes to client i again (its node is ready). */
  resume(i: number): void;
  stop(): Promise<LoadReport>;
}

/**
 * Runs until stop() resolves: per client, GENERATE, DECRYPT and KEY:STATUS on
 * `keys`, and writes through `writer` (new keys).
 */
export function startLoad(clients: readonly KmsClient[], enclave: string, keys: readonly string[], writer?: KmsClient): Load {
  const paused = new Set<number>();
  const idle = new Map<number, () => void>();
  const report = { reads: 0, crypto: 0, writes: 0, failedReads: [] as string[], failedCrypto: [] as string[], failedWrites: [] as string[] };
  let running = true;
  const pick = () => keys[Math.floor(Math.random() * keys.length)];
  const note = (list: string[], what: string, err: unknown) => {
    if (list.length < 20) list.push(`${what}: ${(err as Error).message}`);
  };
  const readers = clients.map(async (c, i) => {
    while (running) {
      if (paused.has(i)) {
        idle.get(i)?.();
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const k = pick();
      try {
        const g = await c.generate(enclave, k);
        const p = await c.decrypt(enclave, k, g.ciphertext as Uint8Array);
        if (Buffer.compare(Buffer.from(p.plaintext as Uint8Array), Buffer.from(g.plaintext as Uint8Array)) !== 0) throw new Error("decrypt returned other bytes");
        report.crypto += 2;
      } catch (err) {
        note(report.failedCrypto, `node ${i} ${k}`, err);
      }
      try {
        await c.keyStatus(enclave, k);
        report.reads++;
      } catch (err) {
        note(report.failedReads, `node ${i} ${k}`, err);
      }
    }
  });
  const writes = (async () => {
    if (!writer) return;
    while (running) {
      try {
        await writer.createKey(enclave, `load-${randomBytes(6).toString("hex")}`);
        report.writes++;
      } catch (err) {
        note(report.failedWrites, "create", err);
      }
    }
  })();
  return {
    pause(i) {
      paused.add(i);
      return new Promise<void>((resolve) => idle.set(i, resolve));
    },
    resume(i) {
      idle.delete(i);
      paused.delete(i);
    },
    async stop() {
      running = false;
      await Promise.all([...readers, writes]);
      return report;
    },
  };
}
