/**
 * Where a node's audit records go: the hash-chained trail on disk (names
 * sealed), the live audit streams (/v1/log/audit), and optionally a file or
 * stdout (`--audit FILE|-`) as plain JSON lines. Recording is synchronous and
 * cheap (a queue push and a few calls); the disk work happens in the trail's
 * own flushes.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { AuditEvent } from "./record.ts";
import type { AuditTrail } from "./trail.ts";

/** An audit record as it is streamed and written to `--audit`: names in the clear, plus the request path. */
export interface AuditEntry extends AuditEvent {
  readonly path: string;
}

/** The fan-out of one node's audit records. */
export class AuditHub {
  readonly trail: AuditTrail | undefined;
  readonly #out: ((line: string) => void) | undefined;
  readonly #format: (e: AuditEntry) => string;
  readonly #stream: WriteStream | undefined;
  readonly #subscribers = new Set<(e: AuditEntry) => void>();
  /** Records seen (every request, whether or not it reached a sink). */
  count = 0;

  /** `out`: "-" for stdout, a file name to append to, or a function taking each line (`format`ted, default JSON). */
  constructor(opts: { trail?: AuditTrail; out?: string | ((line: string) => void); format?: (e: AuditEntry) => string } = {}) {
    this.trail = opts.trail;
    this.#format = opts.format ?? ((e) => JSON.stringify(e));
    if (typeof opts.out === "function") this.#out = opts.out;
    else if (opts.out === "-") this.#out = (line) => void process.stdout.write(line + "\n");
    else if (opts.out) {
      const stream = createWriteStream(opts.out, { flags: "a", mode: 0o600 });
      this.#stream = stream;
      this.#out = (line) => void stream.write(line + "\n");
    }
  }

  /** Records one answered request. */
  record(e: AuditEntry): void {
    this.count++;
    this.trail?.append(e);
    this.#out?.(this.#format(e));
    for (const s of this.#subscribers) s(e);
  }

  /** Calls `fn` with every record from now on; returns the function that stops it. */
  subscribe(fn: (e: AuditEntry) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** Flushes and closes the trail and the --audit file. */
  async close(): Promise<void> {
    await this.trail?.close();
    if (this.#stream) await new Promise<void>((resolve) => this.#stream!.end(() => resolve()));
  }
}
