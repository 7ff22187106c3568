/**
 * The audit trail on disk: hash-chained JSON lines (record.ts) appended to
 * DIR/audit-NNNNNNNN.jsonl. Requests never wait for it: append() only queues
 * the event; a flush every `flushMs` (or sooner when many are queued) chains,
 * writes and fsyncs the queued records in one go. Files rotate at
 * `maxFileBytes` and the chain carries over. A run starts with an "open"
 * marker saying how the previous one ended and ends with a "close" marker,
 * so records cut from the end of a closed trail are noticed too. A disk that
 * cannot keep up drops records beyond a bound, and the trail says how many.
 * With a `mac`, every marker is sealed (record.ts), and a "seal" marker
 * follows new records at most every `sealMs`: at most that much of a
 * running trail is ever unsealed.
 */
import { mkdir, open, readdir, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { type AuditEvent, type AuditMarker, chainLine, GENESIS, type MarkerMac, parseLine } from "./record.ts";

/** How to keep a trail. */
export interface TrailOptions {
  readonly dir: string;
  /** This node's name in markers (read when they are written: a node learns its address late). */
  readonly node: () => string;
  /** Seals enclave and object names before they reach the disk (identity when absent). */
  readonly seal?: (name: string) => string;
  /** Rotate files at this size (default 64 MiB). */
  readonly maxFileBytes?: number;
  /** Longest a record waits before it is written (default 100 ms). */
  readonly flushMs?: number;
  /** Called when a flush fails (the records stay queued and are tried again). */
  readonly onError?: (err: unknown) => void;
  /** Seals markers (seal.ts trailMac); absent: no macs (the edge, which has no HSM key). */
  readonly mac?: MarkerMac;
  /** Longest time new records stay unsealed (default 10 s). */
  readonly sealMs?: number;
}

/** Counters of a trail, for metrics. */
export interface TrailStats {
  records: number;
  bytes: number;
  flushes: number;
  lost: number;
  /** Seconds the flushes took in total. */
  flushSeconds: number;
}

const FILE = /^audit-(\d{8})\.jsonl$/;
/** Records queued when a flush starts at once rather than at the timer. */
const BATCH = 4096;
/** Most records queued while the disk does not keep up; more are counted as lost. */
const MAX_QUEUED = 250_000;
const utf8 = new TextEncoder();

/** The file name of trail file `index`. */
export function trailFile(index: number): string {
  return `audit-${String(index).padStart(8, "0")}.jsonl`;
}

/** The trail files of `dir`, in chain order. */
export async function trailFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names.filter((n) => FILE.test(n)).sort();
}

/** Where the chain stands at the end of `dir`'s last file. */
interface Tail {
  readonly index: number;
  readonly seq: number;
  readonly hash: string;
  readonly after: string;
  readonly torn?: number;
  /** Continue in a new file (the last one ends with a torn or unreadable line). */
  readonly rotate: boolean;
  readonly size: number;
}

/** Reads the end of the last trail file: its last complete line, and any incomplete one after it. */
async function readTail(dir: string): Promise<Tail> {
  const files = await trailFiles(dir);
  if (files.length === 0) return { index: 1, seq: 0, hash: GENESIS, after: "new", rotate: false, size: 0 };
  const last = files[files.length - 1];
  const index = Number(FILE.exec(last)![1]);
  const fh = await open(path.join(dir, last), "r");
  try {
    const { size } = await fh.stat();
    // Lines are short: the last 64 KiB hold the last complete one (or the whole file does).
    const from = Math.max(0, size - 65_536);
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    const text = buf.toString("utf8");
    const end = text.lastIndexOf("\n");
    const torn = text.length - end - 1 > 0 ? Buffer.byteLength(text.slice(end + 1)) : undefined;
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const parsed = end > 0 ? parseLine(text.slice(start, end)) : undefined;
    if (!parsed || typeof parsed.fields.seq !== "number") {
      // Nothing to continue from: start a new chain in a new file, and say so.
      return { index: index + 1, seq: 0, hash: GENESIS, after: size === 0 ? "new" : "unreadable", rotate: true, size: 0, ...(torn && { torn }) };
    }
    const closed = parsed.fields.event === "close";
    return { index: torn ? index + 1 : index, seq: parsed.fields.seq, hash: parsed.hash, after: closed ? "closed" : "crashed", torn, rotate: !!torn, size: torn ? 0 : size };
  } finally {
    await fh.close();
  }
}

/** An open audit trail. */
export class AuditTrail {
  readonly #opts: Required<Omit<TrailOptions, "seal" | "onError" | "mac">> & Pick<TrailOptions, "seal" | "onError" | "mac">;
  #fh: FileHandle | undefined;
  #index: number;
  #size: number;
  #seq: number;
  #hash: string;
  #queue: Array<AuditEvent | AuditMarker> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #lost = 0;
  #closed = false;
  /** When the last marker was written (a marker seals the chain up to it). */
  #sealedAt = Date.now();
  /** Records were written after the last marker. */
  #unsealed = false;
  #sealTimer: ReturnType<typeof setTimeout> | undefined;
  readonly stats: TrailStats = { records: 0, bytes: 0, flushes: 0, lost: 0, flushSeconds: 0 };

  private constructor(opts: TrailOptions, tail: Tail) {
    this.#opts = { maxFileBytes: 64 << 20, flushMs: 100, sealMs: 10_000, ...opts };
    this.#index = tail.index;
    this.#size = tail.size;
    this.#seq = tail.seq;
    this.#hash = tail.hash;
  }

  /** Opens (or starts) the trail in opts.dir and queues its "open" marker. */
  static async open(opts: TrailOptions): Promise<AuditTrail> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const tail = await readTail(opts.dir);
    const trail = new AuditTrail(opts, tail);
    trail.#queue.push({ time: Date.now(), node: "", event: "open", after: tail.after, ...(tail.torn && { torn: tail.torn }) });
    trail.#timer = setTimeout(() => void trail.flush(), trail.#opts.flushMs);
    return trail;
  }

  /** The last record written: its sequence number and hash (the chain's head). */
  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#hash };
  }

  /** Queues a request's record; it is written at the next flush. */
  append(ev: AuditEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#lost++;
      this.stats.lost++;
      return;
    }
    this.#queue.push(ev);
    if (this.#queue.length >= BATCH) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#opts.flushMs);
  }

  /** Writes and fsyncs everything queued so far; resolves once it is on disk. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(() => this.#write()).catch((err) => this.#opts.onError?.(err));
    return this.#writing;
  }

  /** Flushes, writes the "close" marker and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#queue.push({ time: Date.now(), node: "", event: "close" });
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#sealTimer);
    await this.#writing;
    await this.#fh?.close();
    this.#fh = undefined;
  }

  async #write(): Promise<void> {
    const now = Date.now();
    const sealDue = this.#opts.mac !== undefined && now - this.#sealedAt >= this.#opts.sealMs;
    if (this.#queue.length === 0 && this.#lost === 0 && !(sealDue && this.#unsealed)) return this.#armSeal(now);
    const started = performance.now();
    const batch = this.#queue;
    this.#queue = [];
    if (this.#lost > 0) {
      batch.unshift({ time: now, node: "", event: "lost", count: this.#lost });
      this.#lost = 0;
    }
    const endsUnsealed = batch.length === 0 ? this.#unsealed : !("event" in batch[batch.length - 1]);
    const sealing = sealDue && endsUnsealed;
    if (sealing) batch.push({ time: now, node: "", event: "seal" });
    let seq = this.#seq, hash = this.#hash;
    const lines: string[] = [];
    for (const rec of batch) {
      const sealed = "event" in rec
        ? { ...rec, node: rec.node || this.#opts.node() }
        : this.#opts.seal ? { ...rec, enclave: this.#opts.seal(rec.enclave), object: this.#opts.seal(rec.object) } : rec;
      const out = chainLine(++seq, hash, sealed, this.#opts.mac);
      lines.push(out.line);
      hash = out.hash;
    }
    const bytes = utf8.encode(lines.join("\n") + "\n"); // TextEncoder: ~15× cheaper here than Buffer.from
    try {
      const fh = await this.#file();
      await fh.write(bytes);
      await fh.datasync();
    } catch (err) {
      // Nothing was chained: put the records back in front, to be tried again.
      // Part of the batch may be in the file, cut short: go on in a new file (the chain carries over).
      this.#queue = [...(sealing ? batch.slice(0, -1) : batch), ...this.#queue];
      await this.#fh?.close().catch(() => {});
      this.#fh = undefined;
      this.#index++;
      throw err;
    }
    this.#seq = seq;
    this.#hash = hash;
    this.#unsealed = !("event" in batch[batch.length - 1]);
    if (!this.#unsealed) this.#sealedAt = now;
    this.#armSeal(now);
    this.#size += bytes.length;
    this.stats.records += batch.length;
    this.stats.bytes += bytes.length;
    this.stats.flushes++;
    this.stats.flushSeconds += (performance.now() - started) / 1000;
    if (this.#size >= this.#opts.maxFileBytes) {
      await this.#fh?.close();
      this.#fh = undefined;
      this.#index++;
      this.#size = 0;
    }
  }

  /** While records are unsealed, a flush when their time is up, with or without new records after them. */
  #armSeal(now: number): void {
    if (!this.#unsealed || !this.#opts.mac || this.#closed || this.#sealTimer) return;
    this.#sealTimer = setTimeout(() => {
      this.#sealTimer = undefined;
      void this.flush();
    }, Math.max(1, this.#sealedAt + this.#opts.sealMs - now));
  }

  /** The file being appended to, opened on first use (mode 0600). */
  async #file(): Promise<FileHandle> {
    if (!this.#fh) {
      const file = path.join(this.#opts.dir, trailFile(this.#index));
      this.#fh = await open(file, "a", 0o600);
      this.#size = (await stat(file)).size;
    }
    return this.#fh;
  }
}
