/**
 * The sealed digest that binds a data directory's rows as a whole. Each row
 * is sealed on its own, so without it a copy of an older database could
 * restore, delete or re-insert single rows undetected.
 *
 * digest = XOR over every row of HMAC(rowKey, id ‖ sealed value), kept with
 * the row count and a write counter in one sealed meta row that every write
 * updates in the same transaction. XOR keeps a write's cost to its changed
 * rows. A row's share is a MAC under a root-derived key, so nobody without
 * the root key can tell which other set of rows (old versions included:
 * every sealed value is unique) would reach the same digest; duplicate ids,
 * which would cancel out, are refused at load (verify.ts).
 *
 * Only the sum and count are kept in memory: a write computes the share of
 * each row it replaces or deletes from that row as stored (the writer reads
 * it back in the same queue), so the digest costs no memory per row. A row
 * changed on disk behind kms's back then makes the sum wrong, which the next
 * open refuses like any other tampering.
 */
import { Buffer } from "node:buffer";
import { NONCE_SIZE, open, seal, TAG_SIZE } from "../crypto/aead.ts";
import { equal } from "../crypto/constant-time.ts";
import { deriveKey } from "../crypto/hkdf.ts";
import { KeyedHmac } from "../crypto/hmac.ts";
import { IV_SIZE } from "../crypto/message-key.ts";
import { randomBytes } from "../crypto/random.ts";

const SUM_SIZE = 32;
/** Plaintext of the meta row: row count (u64) ‖ writes (u64) ‖ digest. */
const META_SIZE = 8 + 8 + SUM_SIZE;
const BODY_OFFSET = IV_SIZE + NONCE_SIZE;
const AAD = new TextEncoder().encode("kms/v2/state-digest");

/** What the sealed meta row says about the rows. */
interface Meta {
  readonly count: number;
  readonly writes: number;
  readonly sum: Uint8Array;
}

/** A planned write: the meta row to store with it, and commit() once the transaction is durable. */
export interface DigestPlan {
  readonly meta: Uint8Array;
  commit(): void;
}

/** The running digest of one data directory's rows. */
export class StateDigest {
  readonly #rowKey: Uint8Array;
  readonly #shareMac: KeyedHmac;
  readonly #metaKey: Uint8Array;
  #count = 0;
  #sum = new Uint8Array(SUM_SIZE);
  #writes = 0;

  private constructor(rowKey: Uint8Array, metaKey: Uint8Array) {
    this.#rowKey = rowKey;
    this.#shareMac = new KeyedHmac(rowKey);
    this.#metaKey = metaKey;
  }

  /** The digest of no rows, under keys derived from the data directory's root key. */
  static fromRoot(root: Uint8Array): StateDigest {
    return new StateDigest(deriveKey(root, "kms/v2/row-digest"), deriveKey(root, "kms/v2/state-digest-seal"));
  }

  /** A digest of no rows under the same keys (to verify the rows again). */
  fresh(): StateDigest {
    return new StateDigest(this.#rowKey, this.#metaKey);
  }

  /** Writes made to the directory so far (its generation): only ever grows. */
  get writes(): number {
    return this.#writes;
  }

  /** A row's share of the digest: HMAC(rowKey, id ‖ sealed value). */
  share(id: Uint8Array, value: Uint8Array): string {
    return this.#shareMac.latin1(id, value);
  }

  /** Counts a row read at start (each row once: the reader refuses duplicates). */
  add(share: string): void {
    this.#count++;
    xorInto(this.#sum, share);
  }

  /** Checks the rows counted so far against the sealed meta row; false when they differ or it is not authentic. */
  verify(sealed: Uint8Array): boolean {
    const meta = this.#open(sealed);
    if (meta === null || meta.count !== this.#count || !equal(meta.sum, this.#sum)) return false;
    this.#writes = meta.writes;
    return true;
  }

  /** The sealed meta row of the rows counted so far (a new or migrated directory). */
  sealCurrent(): Uint8Array {
    return this.#seal({ count: this.#count, writes: this.#writes, sum: this.#sum });
  }

  /**
   * Plans a write of rows given by id with their new share (null: deleted);
   * later changes to one id win. `stored` gives the share of the row an id
   * has on disk now (null: none).
   */
  plan(changes: ReadonlyArray<readonly [id: Uint8Array, share: string | null]>, stored: (id: Uint8Array) => string | null): DigestPlan {
    const next = new Map<string, string | null>();
    const sum = this.#sum.slice();
    let count = this.#count;
    for (const [id, share] of changes) {
      const key = latin1(id);
      const old = next.has(key) ? next.get(key)! : stored(id);
      if (old !== null) {
        xorInto(sum, old);
        count--;
      }
      if (share !== null) {
        xorInto(sum, share);
        count++;
      }
      next.set(key, share);
    }
    const writes = this.#writes + 1;
    return {
      meta: this.#seal({ count, writes, sum }),
      commit: () => {
        this.#count = count;
        this.#sum = sum;
        this.#writes = writes;
      },
    };
  }

  #seal(meta: Meta): Uint8Array {
    const plain = new Uint8Array(META_SIZE);
    const view = new DataView(plain.buffer);
    view.setBigUint64(0, BigInt(meta.count));
    view.setBigUint64(8, BigInt(meta.writes));
    plain.set(meta.sum, 16);
    const iv = randomBytes(IV_SIZE), nonce = randomBytes(NONCE_SIZE);
    const body = seal("AES256", this.#metaKey, iv, nonce, plain, AAD);
    const out = new Uint8Array(BODY_OFFSET + body.length);
    out.set(iv, 0);
    out.set(nonce, IV_SIZE);
    out.set(body, BODY_OFFSET);
    return out;
  }

  #open(sealed: Uint8Array): Meta | null {
    if (sealed.length !== BODY_OFFSET + META_SIZE + TAG_SIZE) return null;
    const plain = open("AES256", this.#metaKey, sealed.subarray(0, IV_SIZE), sealed.subarray(IV_SIZE, BODY_OFFSET), sealed.subarray(BODY_OFFSET), AAD);
    if (plain === null) return null;
    const view = new DataView(plain.buffer, plain.byteOffset);
    return { count: Number(view.getBigUint64(0)), writes: Number(view.getBigUint64(8)), sum: plain.slice(16) };
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** sum ^= share (a latin1 string of SUM_SIZE bytes), without allocating. */
function xorInto(sum: Uint8Array, share: string): void {
  for (let i = 0; i < SUM_SIZE; i++) sum[i] ^= share.charCodeAt(i);
}
