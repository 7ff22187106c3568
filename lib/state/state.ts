import { Errors, type KmsError } from "./errors.ts";
import type { AdminKeySetting, EnclaveRecord, IdentityRecord, KeyRing, KeyVersion, PolicyRecord } from "./types.ts";

/** The value looked up, or the not-found error `missing` makes. */
function found<T>(value: T | undefined, missing: () => KmsError): T {
  if (value === undefined) throw missing();
  return value;
}

/** An enclave with the keys, identities and policies it holds. */
export interface EnclaveEntry {
  readonly record: EnclaveRecord;
  readonly keys: Map<string, KeyRing>;
  readonly identities: Map<string, IdentityRecord>;
  readonly policies: Map<string, PolicyRecord>;
}

/** A new, empty enclave entry. */
export function enclaveEntry(record: EnclaveRecord): EnclaveEntry {
  return { record, keys: new Map(), identities: new Map(), policies: new Map() };
}

/** A page of a sorted listing; `continueAt` is empty on the last page. */
export interface Page<T> {
  readonly items: T[];
  readonly continueAt: string;
}

/** The whole KMS state, held in memory. Only apply.ts changes it. */
export class State {
  readonly enclaves = new Map<string, EnclaveEntry>();
  /** Number of state changes applied so far (reported as a node's "commit"). */
  commit = 0;
  /** Index of the last replicated log entry reflected in this state. */
  applied = 0;
  /** Highest node id the cluster ever used; ids are never reused. */
  maxNodeId = 0;
  /** Whether the HSM-derived admin API key is accepted (it is until an operator disables it). */
  adminKey: AdminKeySetting = { disabled: false, changedAt: 0, changedBy: "" };

  /** The enclave `name`, or 404 "enclave does not exist". */
  enclave(name: string): EnclaveEntry {
    return found(this.enclaves.get(name), Errors.enclaveNotFound);
  }

  /** The key ring `name` in enclave `enclave`, or the matching 404. */
  keyRing(enclave: string, name: string): KeyRing {
    return found(this.enclave(enclave).keys.get(name), Errors.keyNotFound);
  }

  /** The identity `identity` in enclave `enclave`, or 404 "identity does not exist". */
  identity(enclave: string, identity: string): IdentityRecord {
    return found(this.enclave(enclave).identities.get(identity), Errors.identityNotFound);
  }

  /** The policy `name` in enclave `enclave`, or 404 "policy does not exist". */
  policy(enclave: string, name: string): PolicyRecord {
    return found(this.enclave(enclave).policies.get(name), Errors.policyNotFound);
  }

  #sysAdmins?: Set<string>;

  /** Whether `identity` is a SysAdmin stored in any enclave (indexed: this runs on every request). */
  isSysAdmin(identity: string): boolean {
    if (!this.#sysAdmins) {
      this.#sysAdmins = new Set();
      for (const e of this.enclaves.values()) {
        for (const i of e.identities.values()) if (i.privilege === "SysAdmin") this.#sysAdmins.add(i.identity);
      }
    }
    return this.#sysAdmins.has(identity);
  }

  /** Whether any SysAdmin identity is stored (one must be, before the admin API key can be disabled). */
  hasStoredSysAdmin(): boolean {
    if (!this.#sysAdmins) this.isSysAdmin("");
    return this.#sysAdmins!.size > 0;
  }

  /** Drops derived indexes; apply.ts calls it whenever identities change. */
  identitiesChanged(): void {
    this.#sysAdmins = undefined;
  }

  /** Version `version` of a key (0 = latest), or 404 "key does not exist". */
  keyVersion(enclave: string, name: string, version: number): KeyVersion {
    const ring = this.keyRing(enclave, name);
    const v = version === 0 ? ring.versions[ring.versions.length - 1] : findVersion(ring, version);
    if (!v) throw Errors.keyNotFound();
    return v;
  }
}

/** The version `version` of a ring, if it exists. */
export function findVersion(ring: KeyRing, version: number): KeyVersion | undefined {
  // Rings hold few versions; a linear scan beats a second index.
  for (const v of ring.versions) if (v.version === version) return v;
  return undefined;
}

/** Lists names of a map with a prefix (and passing `visible`), sorted, starting at `continueAt`, at most `limit`. */
export function page<T>(
  entries: Map<string, T>,
  prefix: string,
  continueAt: string,
  limit: number,
  visible: (name: string) => boolean = () => true,
): Page<T> {
  const names = [...entries.keys()].filter((n) => n.startsWith(prefix) && n >= continueAt && visible(n)).sort();
  const taken = names.slice(0, limit);
  return {
    items: taken.map((n) => entries.get(n)!),
    continueAt: names.length > limit ? names[limit] : "",
  };
}
