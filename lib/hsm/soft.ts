/**
 * The software HSM: one 32-byte key, given to the server as text, that seals
 * the data directory's root key and derives long-lived secrets. Nothing it
 * protects can be read without it.
 */
import * as v from "valibot";
import { deriveKey } from "../crypto/hkdf.ts";
import { randomBytes } from "../crypto/random.ts";
import { gcmOpen, gcmSeal, NONCE_SIZE, TAG_SIZE } from "../crypto/aead.ts";
import { HsmKeyError, HsmMismatchError } from "./errors.ts";
import { formatHsmKey, HSM_KEY_SIZE, HsmKeyText } from "./key-text.ts";

export { HsmKeyError, HsmMismatchError } from "./errors.ts";

/** Format version of sealed output; the first byte of every seal. */
const SEAL_VERSION = 1;
const SEAL_HEADER = 1 + NONCE_SIZE;
const encoder = new TextEncoder();

/** A software HSM holding its key in a private field, so logging the object shows nothing. */
export class SoftHsm {
  #key: Uint8Array;
  #sealKey: Uint8Array;

  private constructor(key: Uint8Array) {
    this.#key = key;
    this.#sealKey = deriveKey(key, "kms/v1/hsm-seal");
  }

  /** Parses HSM key text; throws HsmKeyError (never quoting the input) when it is malformed. */
  static parse(text: string, source = "MINIO_KMS_HSM_KEY"): SoftHsm {
    const result = v.safeParse(HsmKeyText, text, { abortEarly: true });
    if (!result.success) {
      // Only our fixed issue messages are used: valibot's own would echo the input.
      const reason = result.issues[0]?.message ?? "it is malformed";
      throw new HsmKeyError(
        `${source} is not a valid HSM key (${reason}): expected hsm:aes256:<base64 of ${HSM_KEY_SIZE} bytes>; ` +
          "create one with 'kms hsm new'",
      );
    }
    return new SoftHsm(result.output);
  }

  /** Returns the text of a new random HSM key. */
  static generate(): string {
    const key = randomBytes(HSM_KEY_SIZE);
    const text = formatHsmKey(key);
    key.fill(0);
    return text;
  }

  /** Encrypts and authenticates plaintext, bound to label: version ‖ nonce ‖ ciphertext‖tag. */
  seal(plaintext: Uint8Array, label: string): Uint8Array {
    const nonce = randomBytes(NONCE_SIZE);
    const body = gcmSeal(this.#sealKey, nonce, plaintext, encoder.encode(label));
    const out = new Uint8Array(SEAL_HEADER + body.length);
    out[0] = SEAL_VERSION;
    out.set(nonce, 1);
    out.set(body, SEAL_HEADER);
    return out;
  }

  /** Reverses seal; throws HsmMismatchError when the data is not authentic under this key and label. */
  unseal(sealed: Uint8Array, label: string): Uint8Array {
    if (sealed.length < SEAL_HEADER + TAG_SIZE || sealed[0] !== SEAL_VERSION) throw new HsmMismatchError();
    const nonce = sealed.subarray(1, SEAL_HEADER);
    const plaintext = gcmOpen(this.#sealKey, nonce, sealed.subarray(SEAL_HEADER), encoder.encode(label));
    if (plaintext === null) throw new HsmMismatchError();
    return plaintext;
  }

  /** Derives `length` bytes of key for the purpose named by label (e.g. the admin API key seed). */
  derive(label: string, length = 32): Uint8Array {
    return deriveKey(this.#key, "kms/v1/derive/" + label, length);
  }

  /** Keeps JSON serialisation from ever carrying key material. */
  toJSON(): string {
    return "SoftHsm";
  }
}
