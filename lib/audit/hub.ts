/**
 * Where a node's audit records go: the hash-chained trail on disk (names
 * sealed), the live audit streams (/v1/log/audit), and optionally a file or
 * stdout (`--audit FILE|-`) as plain JSON lines. Recording is synchronous and
 * cheap (a queue push and a few calls); the disk work happens in the trail's
 * own flushes. The `--audit` file is opened at start (a path that cannot be
 * written stops the start, rather than losing every record), its write
 * errors are logged, and reopen() starts a new file after a log rotation.
 */
import { closeSync, createWriteStream, openSync, type WriteStream } from "node:fs";
import { log } from "../log/logger.ts";
import type { AuditEvent } from "./record.ts";
import type { AuditTrail } from "./trail.ts";

/** An audit record as it is streamed and written to `--audit`: names in the clear, plus the request path. */
export interface AuditEntry extends AuditEvent {
  readonly path: string;
}

/** The `--audit` file cannot be opened for appending. */
export class AuditOutError extends Error {
  constructor(file: string, err: unknown) {
    super(`--audit ${file}: cannot append to it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    this.name = "AuditOutError";
  }
}

/** Opens `file` for appending (mode 0600 when new); an AuditOutError when it cannot be. */
function appendTo(file: string): WriteStream {
  try {
    closeSync(openSync(file, "a", 0o600));
  } catch (err) {
    throw new AuditOutError(file, err);
  }
  const stream = createWriteStream(file, { flags: "a", mode: 0o600 });
  let told = false;
  stream.on("error", (err) => {
    if (!told) log.error(`--audit ${file}: cannot write, records are not copied there: ${(err as NodeJS.ErrnoException).code ?? err.name}`);
    told = true;
  });
  return stream;
}

/** The fan-out of one node's audit records. */
export class AuditHub {
  readonly trail: AuditTrail | undefined;
  readonly #out: ((line: string) => void) | undefined;
  readonly #format: (e: AuditEntry) => string;
  readonly #file: string | undefined;
  #stream: WriteStream | undefined;
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
      this.#file = opts.out;
      this.#stream = appendTo(opts.out);
      this.#out = (line) => void this.#stream!.write(line + "\n");
    }
  }

  /** Reopens the `--audit` file by its name (after logrotate moved it); an AuditOutError when it cannot be. */
  reopen(): void {
    if (!this.#file || !this.#stream) return;
    const next = appendTo(this.#file);
    const old = this.#stream;
    this.#stream = next;
    old.end();
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
