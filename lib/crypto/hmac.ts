/**
 * HMAC-SHA256 under one key for many messages: the store's three MACs per row
 * at open (row id, row key, digest share). Under Bun the keyed hasher's state
 * is kept and copied for each message, 2–3× cheaper than a new node:crypto
 * Hmac per call (which hashes the padded key again each time); elsewhere
 * (Deno) node:crypto. Both give the same bytes (hmac.test.ts).
 */
import { createHmac } from "node:crypto";

interface Hasher {
  copy(): Hasher;
  update(data: Uint8Array): Hasher;
  digest(): Uint8Array;
  digest(encoding: "latin1"): string;
}
type HasherClass = new (algorithm: string, key: Uint8Array) => Hasher;

const BunHasher = (globalThis as { Bun?: { CryptoHasher?: HasherClass } }).Bun?.CryptoHasher;

/** HMAC-SHA256 under a fixed key. */
export class KeyedHmac {
  readonly #key: Uint8Array;
  readonly #keyed: Hasher | undefined;

  constructor(key: Uint8Array, hasher: HasherClass | undefined = BunHasher) {
    this.#key = key;
    this.#keyed = hasher ? new hasher("sha256", key) : undefined;
  }

  /** HMAC(key, a ‖ b) as a fresh Uint8Array. */
  bytes(a: Uint8Array, b?: Uint8Array): Uint8Array {
    const digest = this.#start(a, b).digest();
    const out = new Uint8Array(digest);
    digest.fill(0); // it may be a key (a row's key): leave no copy in the runtime's buffer
    return out;
  }

  /** HMAC(key, a ‖ b) as a latin1 string (a third of a Uint8Array's memory). */
  latin1(a: Uint8Array, b?: Uint8Array): string {
    return this.#start(a, b).digest("latin1");
  }

  #start(a: Uint8Array, b?: Uint8Array): Hasher {
    const h = this.#keyed ? this.#keyed.copy() : (createHmac("sha256", this.#key) as unknown as Hasher);
    h.update(a);
    if (b) h.update(b);
    return h;
  }
}
