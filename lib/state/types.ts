import type { KeyType } from "../crypto/aead.ts";
export type { KeyType };

/** The key types a key ring can hold. */
export const KEY_TYPES: readonly KeyType[] = ["AES256", "ChaCha20"];

/** Who created a thing and when (ms since the epoch); part of every record. */
export interface Provenance {
  readonly createdAt: number;
  readonly createdBy: string;
}

/** An enclave: a namespace isolated from every other enclave. */
export interface EnclaveRecord extends Provenance {
  readonly name: string;
}

/** One version of a key: its type and 32 bytes of key material. */
export interface KeyVersion extends Provenance {
  readonly version: number;
  readonly type: KeyType;
  readonly material: Uint8Array;
}

/** A named key with its versions; the latest version encrypts, every version decrypts. */
export interface KeyRing {
  readonly enclave: string;
  readonly name: string;
  /** Versions in ascending order. */
  readonly versions: readonly KeyVersion[];
  /** Never reused, so a deleted version's number cannot come back with other material. */
  readonly nextVersion: number;
}
