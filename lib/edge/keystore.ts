/**
 * The key store contract of the edge server (KES's): master keys live in an
 * external store; the edge server creates, fetches, deletes and lists them.
 */
import type { KeyType } from "../crypto/message-key.ts";

/** A master key as KES keeps it: the secret, an optional HMAC key and provenance. */
export interface MasterKey {
  readonly type: KeyType;
  /** 32 bytes. */
  readonly material: Uint8Array;
  /** KES keys carry a separate HMAC-SHA256 key; legacy (JSON) keys have none. */
  readonly hmacKey?: Uint8Array;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** KES hex identity of the creator ("" when unknown). */
  readonly createdBy: string;
}

/** Reachability and latency of a store, from its last status call. */
export interface StoreStatus {
  readonly latencyMs: number;
}

/** One backend: fs, vault, aws.secretsmanager or kms. */
export interface KeyStore {
  /** Backend name for status lines and errors. */
  readonly kind: string;
  /** Checks that the store answers; throws KeyStoreError when it does not. */
  status(): Promise<StoreStatus>;
  /**
   * Stores `key` under `name`, failing with KeyExistsError when the name is
   * taken. Returns the key as the store will hand it back (a store may derive
   * its own material, see stores/kms.ts).
   */
  create(name: string, key: MasterKey): Promise<MasterKey>;
  /** The key `name`; KeyNotFoundError when there is none. */
  get(name: string): Promise<MasterKey>;
  /** Deletes `name`; KeyNotFoundError when there is none. */
  delete(name: string): Promise<void>;
  /** Every key name starting with `prefix`, in any order. */
  list(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** The store failed or cannot be reached; `unreachable` when no answer came at all. */
export class KeyStoreError extends Error {
  readonly unreachable: boolean;
  constructor(message: string, unreachable = true) {
    super(message);
    this.name = "KeyStoreError";
    this.unreachable = unreachable;
  }
}

export class KeyExistsError extends Error {
  constructor() {
    super("key already exists");
    this.name = "KeyExistsError";
  }
}

export class KeyNotFoundError extends Error {
  constructor() {
    super("key does not exist");
    this.name = "KeyNotFoundError";
  }
}

/** KES key names: [0-9A-Za-z_-], at most 80, no leading or trailing '-'. */
export function isKeyName(name: string): boolean {
  return /^(?:[0-9A-Za-z_]|[0-9A-Za-z_][0-9A-Za-z_-]{0,78}[0-9A-Za-z_])$/.test(name);
}

/** A short, secret-free description of any error, for KeyStoreError messages. */
export function reason(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message.split("\n")[0].slice(0, 200);
  return String(err).slice(0, 200);
}
