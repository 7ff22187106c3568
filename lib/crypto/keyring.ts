/**
 * Decryption over a key's versions: the version is read from the ciphertext
 * itself (clients such as MinIO always send version 0), with KES's format as a
 * fallback only for versions imported from KES (made with `imported`).
 *
 * Work is bounded: a ciphertext that names its version costs one AEAD open;
 * a KES-format one costs one per imported version (an import makes version 1
 * of a new key, so at most one); and every open draws on the request's
 * DecryptBudget, so a pipelined request of many frames is bounded too.
 */
import { ciphertextVersion, decrypt, keyBinding } from "./ciphertext.ts";
import { decryptKes } from "./kes.ts";
import type { KeyType } from "./message-key.ts";

/** A key version as far as decryption is concerned. */
export interface DecryptionKey {
  readonly version: number;
  readonly type: KeyType;
  readonly material: Uint8Array;
  /** Imported key bytes: KES may have made ciphertexts under them. */
  readonly imported: boolean;
}

/** AEAD opens one request may spend on decryption. */
export class DecryptBudget {
  #left: number;
  constructor(opens: number) {
    this.#left = opens;
  }

  /** Takes one open from the budget; throws BudgetExceededError when none is left. */
  take(): void {
    if (this.#left <= 0) throw new BudgetExceededError();
    this.#left--;
  }
}

/** A request tried more decryptions than its budget allows. */
export class BudgetExceededError extends Error {
  constructor() {
    super("too many decryption attempts in one request");
  }
}

const bindings = new WeakMap<object, Uint8Array>();

/** The v2 binding of a key ring, computed once per ring object (rings are replaced, never changed). */
export function ringBinding(ring: { readonly enclave: string; readonly name: string }): Uint8Array {
  let b = bindings.get(ring);
  if (!b) bindings.set(ring, b = keyBinding(ring.enclave, ring.name));
  return b;
}

let opens = 0;
/** AEAD opens by decryptWithVersions since the process started (tests count work with it, never time). */
export function decryptOpens(): number {
  return opens;
}

/**
 * Decrypts with the right version of a key; `requested` 0 means "whichever the
 * ciphertext names". `binding` is the key's (keyBinding). Returns null when no
 * version opens it.
 */
export function decryptWithVersions(
  versions: readonly DecryptionKey[],
  requested: number,
  ct: Uint8Array,
  associatedData: Uint8Array,
  binding: Uint8Array,
  budget?: DecryptBudget,
): Uint8Array | null {
  const named = ciphertextVersion(ct);
  if (named !== undefined && (requested === 0 || requested === named)) {
    const key = versions.find((k) => k.version === named);
    if (key) {
      budget?.take();
      opens++;
      const plaintext = decrypt(key.type, key.material, ct, associatedData, binding);
      if (plaintext) return plaintext;
    }
  }
  // KES ciphertexts carry no version: try the requested one, else newest first — imported ones only.
  for (let i = versions.length - 1; i >= 0; i--) {
    const key = versions[i];
    if (!key.imported || (requested !== 0 && key.version !== requested)) continue;
    budget?.take();
    opens++;
    const plaintext = decryptKes(key.type, key.material, ct, associatedData);
    if (plaintext) return plaintext;
  }
  return null;
}
