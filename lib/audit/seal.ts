/**
 * The audit trail's keys, both derived from the HSM key. Names in the on-disk audit trail are sealed: every byte of a data
 * directory is encrypted, enclave and key names included, and the trail
 * lives there too. A name seals deterministically (a synthetic nonce, the
 * HMAC of the name), so the same name always reads the same in the trail —
 * records about one key can be found without the HSM key, but not named —
 * and a cache makes a repeated name cost nothing on the write path.
 * `kms audit show` unseals them with the HSM key. The trail's markers carry
 * a mac under a third derived key (trailMac), which `kms audit verify` checks
 * when it has the HSM key.
 */
import { createHmac } from "node:crypto";
import { gcmOpen, gcmSeal, NONCE_SIZE } from "../crypto/aead.ts";
import { decodeBase64Url, encodeBase64Url } from "../encoding/base64.ts";
import type { SoftHsm } from "../hsm/soft.ts";

const PREFIX = "n1:";
const AAD = new TextEncoder().encode("kms audit name");
const CACHE = 10_000;

/** Seals and unseals names with keys derived from the HSM key. */
export class NameSealer {
  readonly #mac: Uint8Array;
  readonly #enc: Uint8Array;
  readonly #cache = new Map<string, string>();

  constructor(hsm: SoftHsm) {
    this.#mac = hsm.derive("audit/names/nonce");
    this.#enc = hsm.derive("audit/names/seal");
  }

  /** `n1:` + base64url(nonce ‖ ciphertext ‖ tag); "" stays "". */
  seal(name: string): string {
    if (name === "") return "";
    let sealed = this.#cache.get(name);
    if (sealed !== undefined) return sealed;
    const nonce = createHmac("sha256", this.#mac).update(name).digest().subarray(0, NONCE_SIZE);
    const body = gcmSeal(this.#enc, nonce, new TextEncoder().encode(name), AAD);
    sealed = PREFIX + encodeBase64Url(Buffer.concat([nonce, body]));
    if (this.#cache.size >= CACHE) this.#cache.clear();
    this.#cache.set(name, sealed);
    return sealed;
  }

  /** The name a sealed value holds, or undefined when it was not sealed with this HSM key. */
  unseal(sealed: string): string | undefined {
    if (sealed === "") return "";
    if (!sealed.startsWith(PREFIX)) return undefined;
    const raw = decodeBase64Url(sealed.slice(PREFIX.length));
    if (raw.length <= NONCE_SIZE) return undefined;
    const plain = gcmOpen(this.#enc, raw.subarray(0, NONCE_SIZE), raw.subarray(NONCE_SIZE), AAD);
    return plain ? new TextDecoder().decode(plain) : undefined;
  }
}

/** The mac of the trail's markers: HMAC-SHA256 under a key the HSM derives, hex. */
export function trailMac(hsm: SoftHsm): (body: string) => string {
  const key = hsm.derive("audit/trail/mac");
  return (body) => createHmac("sha256", key).update(body).digest("hex");
}
