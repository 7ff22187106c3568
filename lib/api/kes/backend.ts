/**
 * What the KES API needs from whatever holds the keys: the stateful server's
 * enclaves, or the edge server's external key store behind its cache. Both
 * throw KmsErrors; routes.ts maps them to KES's messages and statuses.
 */
import type { KeyType } from "../../crypto/message-key.ts";

/** The operations of KES's key API, plus the read-only endpoints that need a known caller. */
export type KesOp =
  | "create" | "import" | "describe" | "list" | "delete" | "generate" | "encrypt" | "decrypt" | "hmac" | "rewrap"
  | "status" | "metrics" | "logError" | "logAudit" | "self" | "policyDescribe" | "policyRead" | "policyList";

/** A request as far as authorisation is concerned. */
export interface KesRequest {
  readonly method: string;
  /** The URL path exactly as KES policies match it, e.g. /v1/key/generate/minio-key. */
  readonly path: string;
  readonly op: KesOp;
  /** The key (or policy, identity) named by the path; "" for none. */
  readonly name: string;
}

/** An allowed request; for listings, which names the caller may see. */
export interface KesAccess {
  readonly visible: (name: string) => boolean;
}

/** What describe returns. */
export interface KesKeyInfo {
  readonly name: string;
  readonly algorithm: KeyType;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** The creator's identity, h1: or KES hex. */
  readonly createdBy: string;
}

/** The key store's health as /v1/status reports it. */
export interface KesStoreStatus {
  readonly latencyMs: number;
  readonly unreachable: boolean;
}

/** One page of key names. */
export interface KesNamePage {
  readonly names: string[];
  readonly continueAt: string;
}

/** A policy in KES's form: URL path patterns (an exact path, or a prefix ending in '*'). */
export interface KesPolicy {
  readonly name: string;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** ms since the epoch. */
  readonly createdAt: number;
  /** h1: or KES hex identity; "" when unknown. */
  readonly createdBy: string;
}

/** What /v1/identity/self/describe returns. */
export interface KesSelf {
  /** The caller's h1: identity. */
  readonly identity: string;
  /** Bypasses every policy. */
  readonly admin: boolean;
  /** The assigned policy ("" for none, and for admins). */
  readonly policy?: KesPolicy;
  readonly createdAt: number;
  readonly createdBy: string;
}

/** The key operations behind the KES API. `by` is the caller's h1: identity. */
export interface KesBackend {
  /**
   * Waits until the backend may answer `identity` (a stateful node with a
   * pending change to what the answer reads: the caller's own records, and
   * with `req` what the request reads); throws when it may not.
   */
  barrier?(identity: string | undefined, req?: KesRequest): Promise<void>;
  /** Whether `identity` (h1:) is known here at all: the admin, or an identity some policy names. */
  isKnown(identity: string | undefined): boolean;
  /** Access for a request by `identity` (h1:), or undefined when denied. Unknown callers are denied. */
  authorize(identity: string | undefined, req: KesRequest): KesAccess | undefined;
  create(name: string, by: string): Promise<void>;
  import(name: string, key: Uint8Array, type: KeyType, by: string): Promise<void>;
  describe(name: string): Promise<KesKeyInfo>;
  list(prefix: string, continueAt: string, limit: number, visible: (name: string) => boolean): Promise<KesNamePage>;
  /** Deletes a key; `by` (the caller) is recorded where the deletion is kept for recovery. */
  delete(name: string, by: string): Promise<void>;
  generate(name: string, context: Uint8Array): Promise<{ plaintext: Uint8Array; ciphertext: Uint8Array }>;
  encrypt(name: string, plaintext: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
  decrypt(name: string, ciphertext: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
  hmac(name: string, message: Uint8Array): Promise<Uint8Array>;
  storeStatus(): KesStoreStatus;
  /** Whether /v1/ready should answer 200. */
  ready(): boolean;
  self(identity: string): KesSelf;
  /** The policies, by name, in KES's form. */
  policies(): ReadonlyMap<string, KesPolicy>;
}
