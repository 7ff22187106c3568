/**
 * The backup format: a header naming the format version, the cluster, the
 * commit index and who may open it, its checksum, then the records of the
 * state in sealed chunks. The chunks are sealed (AES-256-GCM) under a random
 * backup key that is itself sealed for every HSM key configured when the
 * backup was made, so any one of them opens it and nothing else does. Each
 * chunk is bound to the header, to its place, and to whether it is the last,
 * so an edited, reordered or truncated backup is refused; the last one
 * carries the record count and the state hash, checked before a restore
 * changes anything. Streamed both ways, a chunk at a time.
 *
 *   "kms-bkp\n" ‖ u32 len ‖ header JSON ‖ SHA-256(all before) ‖ frames
 *   frame = u32 len ‖ AES-GCM(chunk key, nonce = u64 index ‖ u32 last, aad = header checksum)
 *   plaintext (per chunk, raw-deflated with ?gzip) = records: u32 len ‖ key ‖ u32 len ‖ value
 */
import { createHash } from "node:crypto";
import { setImmediate } from "node:timers";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import * as v from "valibot";
import { hkdf } from "../crypto/hkdf.ts";
import { randomBytes } from "../crypto/random.ts";
import { gcmOpen, gcmSeal } from "../crypto/aead.ts";
import { sealTo } from "../hsm/public-seal.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { StateHasher } from "./state-hash.ts";

const MAGIC = new TextEncoder().encode("kms-bkp\n");
/** The format this version writes and the newest it reads. */
export const BACKUP_FORMAT = 1;
/** Plaintext bytes per chunk before compression. */
const CHUNK = 256 * 1024;
/** Largest sealed frame a reader accepts (a chunk that did not compress, plus the tag). */
const MAX_FRAME = CHUNK + 64 * 1024;
const MAX_HEADER = 64 * 1024;
const KEY_LABEL = "kms/v1/backup-key";
/** The record that carries the cluster credentials, first. */
export const CREDENTIALS_RECORD = "x/credentials";
/** The record that closes the backup: the count of state records and their hash. */
const END_RECORD = "x/end";

/** A backup's header, as written. */
export interface BackupHeader {
  readonly format: number;
  readonly cluster: string;
  /** The log index the state is at. */
  readonly index: number;
  /** The number of state changes applied (the state's commit counter). */
  readonly commit: number;
  readonly createdAt: number;
  readonly compression: "none" | "deflate";
  /** The backup key, sealed for each configured HSM key (by fingerprint). */
  readonly recipients: ReadonlyArray<{ readonly hsm: string; readonly sealed: string }>;
}

const HeaderSchema = v.object({
  format: v.pipe(v.number(), v.integer(), v.minValue(1)),
  cluster: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)),
  index: v.pipe(v.number(), v.integer(), v.minValue(0)),
  commit: v.pipe(v.number(), v.integer(), v.minValue(0)),
  createdAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  compression: v.picklist(["none", "deflate"]),
  recipients: v.pipe(v.array(v.object({ hsm: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)), sealed: v.pipe(v.string(), v.base64()) })), v.minLength(1), v.maxLength(64)),
});
/** Only the format is read before the rest is checked, so a newer format is named as such. */
const FormatOnly = v.looseObject({ format: v.number() });
const EndSchema = v.object({ records: v.number(), stateHash: v.string() });

/** A backup that cannot be restored; the message says why, never quoting its content. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupError";
  }
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function nonceOf(index: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  const view = new DataView(n.buffer);
  view.setBigUint64(0, BigInt(index));
  view.setUint32(8, last ? 1 : 0);
  return n;
}

const chunkKey = (backupKey: Uint8Array, checksum: Uint8Array) => hkdf(backupKey, checksum, new TextEncoder().encode("kms/v1/backup-chunks"), 32);

/** What a backup is made of. */
export interface BackupSource {
  readonly cluster: string;
  readonly index: number;
  readonly commit: number;
  readonly compress: boolean;
  /** The HSM keys that may open it: their fingerprints and public halves. */
  readonly recipients: ReadonlyArray<{ readonly fingerprint: string; readonly publicKey: Uint8Array }>;
  /** The cluster credentials (sealed bytes, carried as the first record). */
  readonly credentials: Uint8Array;
  /** Every state record, produced lazily. */
  readonly records: Iterator<readonly [string, Uint8Array]>;
  /** Called once, when the stream ends or is cancelled. */
  readonly done?: () => void;
  /** Called with the state hash once every record is written. */
  readonly onEnd?: (end: { records: number; stateHash: string }) => void;
}

/** Lets the event loop serve others between slices of work. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The backup of `src` as a byte stream: the header at once, then one sealed chunk per pull (backpressure bounds the memory). */
export function backupStream(src: BackupSource): ReadableStream<Uint8Array> {
  const backupKey = randomBytes(32);
  const header: BackupHeader = {
    format: BACKUP_FORMAT, cluster: src.cluster, index: src.index, commit: src.commit, createdAt: Date.now(),
    compression: src.compress ? "deflate" : "none",
    recipients: src.recipients.map((r) => ({ hsm: r.fingerprint, sealed: Buffer.from(sealTo(r.publicKey, backupKey, KEY_LABEL)).toString("base64") })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = concat([MAGIC, u32(json.length), json]);
  const checksum = new Uint8Array(createHash("sha256").update(head).digest());
  const key = chunkKey(backupKey, checksum);
  backupKey.fill(0);
  const hasher = new StateHasher();
  let count = 0, index = 0, ended = false, started = false;
  let pending: Uint8Array[] = [], size = 0;
  const push = (k: string, value: Uint8Array) => {
    const kb = new TextEncoder().encode(k);
    pending.push(u32(kb.length), kb, u32(value.length), value);
    size += 8 + kb.length + value.length;
  };
  const finish = () => {
    if (ended) return;
    ended = true;
    key.fill(0);
    src.done?.();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!started) {
          started = true;
          push(CREDENTIALS_RECORD, src.credentials);
          controller.enqueue(concat([head, checksum]));
          return;
        }
        let last = false;
        while (size < CHUNK) {
          const next = src.records.next();
          if (next.done) {
            const end = { records: count, stateHash: hasher.digest() };
            push(END_RECORD, new TextEncoder().encode(JSON.stringify(end)));
            src.onEnd?.(end);
            last = true;
            break;
          }
          const [k, value] = next.value;
          hasher.add(k, value);
          count++;
          push(k, value);
        }
        const plain = concat(pending);
        pending = [];
        size = 0;
        const body = src.compress ? new Uint8Array(deflateRawSync(plain)) : plain;
        const sealed = gcmSeal(key, nonceOf(index++, last), body, checksum);
        controller.enqueue(concat([u32(sealed.length), sealed]));
        if (last) {
          finish();
          controller.close();
        } else {
          await yieldToLoop();
        }
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 1 });
}

/** A backup read and checked whole: nothing in it is used before all of it authenticated. */
export interface OpenedBackup {
  readonly header: BackupHeader;
  readonly credentials: Uint8Array;
  readonly records: Map<string, Uint8Array>;
  readonly stateHash: string;
}

/** Reads exact byte counts from a stream, a chunk at a time. */
class Reader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #done = false;
  total = 0;
  readonly #max: number;
  constructor(stream: ReadableStream<Uint8Array>, max: number) {
    this.#reader = stream.getReader();
    this.#max = max;
  }
  /** `n` bytes; with `optional`, null if the stream ends before any of them (any other short read throws). */
  async read(n: number, what: string, optional = false): Promise<Uint8Array | null> {
    while (this.#buf.length < n && !this.#done) {
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else {
        this.total += value.length;
        if (this.total > this.#max) throw new BackupError(`the backup is larger than this node accepts (${this.#max} bytes)`);
        this.#buf = this.#buf.length ? concat([this.#buf, value]) : new Uint8Array(value);
      }
    }
    if (this.#buf.length === 0 && this.#done && optional) return null;
    if (this.#buf.length < n) throw new BackupError(`the backup is truncated: it ends inside ${what}`);
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  cancel(): void {
    void this.#reader.cancel().catch(() => {});
  }
}

/**
 * Reads a backup made by backupStream and checks all of it: the format, the
 * header's checksum, that `hsm` is one it was sealed for, every chunk, the
 * end, the count and the state hash. BackupError, saying which, otherwise.
 */
export async function openBackup(stream: ReadableStream<Uint8Array>, hsm: SoftHsm, maxBytes: number): Promise<OpenedBackup> {
  const r = new Reader(stream, maxBytes);
  try {
    const magic = await r.read(MAGIC.length, "its header", true);
    if (!magic || !magic.every((b, i) => b === MAGIC[i])) throw new BackupError("this is not a kms backup (it does not start as one)");
    const len = new DataView((await r.read(4, "its header"))!.buffer).getUint32(0);
    if (len > MAX_HEADER) throw new BackupError("the backup's header is damaged (it claims an impossible size)");
    const json = (await r.read(len, "its header"))!;
    const stored = (await r.read(32, "its header's checksum"))!;
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(json));
    } catch {
      raw = undefined;
    }
    const format = v.safeParse(FormatOnly, raw);
    if (format.success && format.output.format > BACKUP_FORMAT) {
      throw new BackupError(`the backup has format ${format.output.format}, newer than this kms reads (${BACKUP_FORMAT}): restore it with a newer kms`);
    }
    const actual = new Uint8Array(createHash("sha256").update(concat([MAGIC, u32(len), json])).digest());
    if (!actual.every((b, i) => b === stored[i])) throw new BackupError("the backup's header does not match its checksum: it was damaged or edited");
    const parsed = v.safeParse(HeaderSchema, raw);
    if (!parsed.success) throw new BackupError("the backup's header is malformed");
    const header = parsed.output as BackupHeader;
    const mine = header.recipients.find((x) => x.hsm === hsm.fingerprint);
    if (!mine) {
      throw new BackupError(
        `the backup is sealed for other HSM keys (${header.recipients.map((x) => x.hsm).join(", ")}), not for this node's (${hsm.fingerprint})`,
      );
    }
    let backupKey: Uint8Array;
    try {
      backupKey = hsm.openSealed(new Uint8Array(Buffer.from(mine.sealed, "base64")), KEY_LABEL);
    } catch {
      throw new BackupError("the backup's key does not open with this node's HSM key: it was damaged or edited");
    }
    const key = chunkKey(backupKey, actual);
    backupKey.fill(0);
    const records = new Map<string, Uint8Array>();
    const hasher = new StateHasher();
    let credentials: Uint8Array | undefined;
    let end: v.InferOutput<typeof EndSchema> | undefined;
    let carry = new Uint8Array(0);
    for (let index = 0;; index++) {
      const lenBytes = await r.read(4, `chunk ${index}`, true);
      if (!lenBytes) throw new BackupError("the backup is truncated: it ends before its last chunk");
      if (end) throw new BackupError("the backup has data after its last chunk: it was damaged or edited");
      const size = new DataView(lenBytes.buffer).getUint32(0);
      if (size > MAX_FRAME) throw new BackupError(`the backup is damaged: chunk ${index} claims an impossible size`);
      const sealed = (await r.read(size, `chunk ${index}`))!;
      let last = false;
      let body = gcmOpen(key, nonceOf(index, false), sealed, actual);
      if (!body) {
        body = gcmOpen(key, nonceOf(index, true), sealed, actual);
        last = true;
      }
      if (!body) throw new BackupError(`the backup is damaged or was edited: chunk ${index} does not authenticate`);
      let plain: Uint8Array;
      try {
        plain = header.compression === "deflate" ? new Uint8Array(inflateRawSync(body, { maxOutputLength: CHUNK * 4 })) : body;
      } catch {
        throw new BackupError(`the backup is damaged: chunk ${index} does not decompress`);
      }
      let buf = carry.length ? concat([carry, plain]) : plain;
      let at = 0;
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      while (at + 4 <= buf.length) {
        const kl = view.getUint32(at);
        if (at + 8 + kl > buf.length) break;
        const vl = view.getUint32(at + 4 + kl);
        if (at + 8 + kl + vl > buf.length) break;
        const k = new TextDecoder().decode(buf.subarray(at + 4, at + 4 + kl));
        const value = buf.slice(at + 8 + kl, at + 8 + kl + vl);
        at += 8 + kl + vl;
        if (k === CREDENTIALS_RECORD) credentials = value;
        else if (k === END_RECORD) {
          const e = v.safeParse(EndSchema, safeJson(value));
          if (!e.success) throw new BackupError("the backup's end record is malformed");
          end = e.output;
        } else {
          if (end) throw new BackupError("the backup has records after its end record");
          if (records.has(k)) throw new BackupError("the backup holds a record twice: it was damaged or edited");
          records.set(k, value);
          hasher.add(k, value);
        }
      }
      carry = buf.slice(at);
      buf = new Uint8Array(0);
      if (last) {
        if (!end || carry.length) throw new BackupError("the backup's last chunk does not end it: it was damaged or edited");
        break;
      }
    }
    // The last chunk authenticated: nothing may follow it.
    if (await r.read(1, "its end", true)) throw new BackupError("the backup has data after its last chunk: it was damaged or edited");
    key.fill(0);
    if (!credentials) throw new BackupError("the backup lacks the cluster's credentials");
    const hash = hasher.digest();
    if (end!.records !== records.size || end!.stateHash !== hash) throw new BackupError("the backup's records do not match its state hash: it was damaged or edited");
    return { header, credentials, records, stateHash: hash };
  } catch (err) {
    r.cancel();
    throw err;
  }
}

function safeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}
