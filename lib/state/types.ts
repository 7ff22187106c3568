import type { KeyType } from "../crypto/aead.ts";
import type { KeyLifecycle } from "./lifecycle.ts";
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
  /** Imported bytes (KEY:IMPORT, KES import): only these may open KES-format ciphertexts. */
  readonly imported: boolean;
}

/** A named key with its versions; the latest version encrypts, every version decrypts. */
export interface KeyRing {
  readonly enclave: string;
  readonly name: string;
  /** Versions in ascending order. */
  readonly versions: readonly KeyVersion[];
  /** Never reused, so a deleted version's number cannot come back with other material. */
  readonly nextVersion: number;
  /** State, rotation, tags (lifecycle.ts); absent means Enabled with nothing set. */
  readonly lifecycle?: KeyLifecycle;
}

/** Whether the cluster's admin API key is accepted, and who last changed that (ms, identity). */
export interface AdminKeySetting {
  readonly disabled: boolean;
  readonly changedAt: number;
  readonly changedBy: string;
}

/** What an identity may do: SysAdmin everything, Admin its own enclave, User what its policy allows. */
export type Privilege = "SysAdmin" | "Admin" | "User";

/** Privilege order: a caller never creates or manages an identity above its own. */
export const PRIVILEGE_RANK: Readonly<Record<Privilege, number>> = { SysAdmin: 1, Admin: 2, User: 3 };

/** An identity (h1:…) known in an enclave. */
export interface IdentityRecord extends Provenance {
  readonly enclave: string;
  readonly identity: string;
  readonly privilege: Privilege;
  /** Name of the assigned policy in the same enclave, "" for none. */
  readonly policy: string;
  /** Service accounts belong to the identity that created them and go with it. */
  readonly serviceAccount: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/** Command name (e.g. "KEY:GENERATE") → name patterns ("minio-*", "key-1", "*"). */
export type Rules = Readonly<Record<string, readonly string[]>>;

/** A named policy in an enclave; deny wins over allow, no matching allow means no. */
export interface PolicyRecord extends Provenance {
  readonly enclave: string;
  readonly name: string;
  readonly allow: Rules;
  readonly deny: Rules;
}

/** A configured HSM key (lib/hsm/keys.ts): its public half and the secrets a fresh node with it trusts for a join. Never the key itself. */
export interface HsmKeyRecord extends Provenance {
  readonly fingerprint: string;
  readonly publicKey: Uint8Array;
  readonly join: { readonly ca: Uint8Array; readonly rpc: Uint8Array };
}

/** When, by whom and until when a deleted thing is kept for recovery. */
interface Deletion {
  /** Unique and deterministic: the commit number of the deletion. */
  readonly id: number;
  readonly enclave: string;
  readonly name: string;
  readonly deletedAt: number;
  readonly deletedBy: string;
  /** From then on the leader purges it (a replicated command). */
  readonly purgeAt: number;
}

/** Deleted versions of a key (all of them, or one), kept sealed like the rest of the state until purged. */
export interface DeletedKey extends Deletion {
  readonly kind: "key";
  readonly ring: KeyRing;
}

/** A deleted enclave with everything it held. */
export interface DeletedEnclave extends Deletion {
  readonly kind: "enclave";
  readonly record: EnclaveRecord;
  readonly keys: readonly KeyRing[];
  readonly identities: readonly IdentityRecord[];
  readonly policies: readonly PolicyRecord[];
}

/** Something deleted and still recoverable. */
export type DeletedItem = DeletedKey | DeletedEnclave;
