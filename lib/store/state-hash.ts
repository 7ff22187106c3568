/**
 * The state hash: a fingerprint of everything the state holds (enclaves,
 * keys, identities, policies, settings, HSM keys, deleted things; not the
 * counters), the same on every node that holds the same state however it got
 * there (applying commands, a snapshot, a restored backup). Records are
 * hashed in canonical JSON (sorted keys) and combined independently of order.
 */
import { createHash } from "node:crypto";

/** JSON text with object keys sorted, at every depth. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const decoder = new TextDecoder();

/** Accumulates records into a state hash. */
export class StateHasher {
  readonly #sum = new Uint8Array(32);
  #count = 0;

  /** Adds one state record (counters, `m/…`, are left out). */
  add(key: string, value: Uint8Array): void {
    if (key.startsWith("m/")) return;
    const h = createHash("sha256").update(key).update("\0").update(canonicalJson(JSON.parse(decoder.decode(value)))).digest();
    // Addition mod 2^256 (not XOR, which two equal records would cancel): order does not matter.
    let carry = 0;
    for (let i = 31; i >= 0; i--) {
      const s = this.#sum[i] + h[i] + carry;
      this.#sum[i] = s & 0xff;
      carry = s >> 8;
    }
    this.#count++;
  }

  /** The hash of what was added, as hex. */
  digest(): string {
    const count = Buffer.alloc(8);
    count.writeBigUInt64BE(BigInt(this.#count));
    return createHash("sha256").update("kms/v1/state-hash").update(count).update(this.#sum).digest("hex");
  }
}

/** The state hash of a set of records. */
export function stateHashOf(records: Iterable<readonly [string, Uint8Array | null]>): string {
  const h = new StateHasher();
  for (const [k, value] of records) if (value) h.add(k, value);
  return h.digest();
}
