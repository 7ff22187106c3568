import type { AccessKeyRecord, AliasRecord } from "./lifecycle.ts";
import type { AdminKeySetting, DeletedItem, EnclaveRecord, HsmKeyRecord, IdentityRecord, KeyRing, PolicyRecord } from "./types.ts";

/** The kinds of record the state is made of; settings are cluster-wide (enclave ""). */
export interface Entities {
  enclave: EnclaveRecord;
  key: KeyRing;
  identity: IdentityRecord;
  policy: PolicyRecord;
  setting: AdminKeySetting;
  alias: AliasRecord;
  accessKey: AccessKeyRecord;
  hsm: HsmKeyRecord;
  /** Named by the deletion id. */
  deleted: DeletedItem;
}

/** One record to write (or delete, when `value` is null) to make a command durable. */
export type Effect = { [K in keyof Entities]: { readonly kind: K; readonly enclave: string; readonly name: string; readonly value: Entities[K] | null } }[keyof Entities];
