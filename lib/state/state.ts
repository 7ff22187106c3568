import { Errors, type KmsError } from "./errors.ts";
import type { AccessKeyRecord, AliasRecord } from "./lifecycle.ts";
import { ringBinding } from "../crypto/keyring.ts";
import { type BoundRing, KeyRings } from "./key-rings.ts";
import type { UsedVersion } from "./ring-codec.ts";
import { SortedMap } from "./sorted-map.ts";
import type { AdminKeySetting, DeletedItem, EnclaveRecord, HsmKeyRecord, IdentityRecord, KeyRing, KeyVersion, PolicyRecord } from "./types.ts";

/** withKey()'s scratch: one version and binding, valid while its `use` runs (then the material is zeroed). */
const SCRATCH: UsedVersion = { version: 0, type: "AES256", material: new Uint8Array(32) };
const SCRATCH_BINDING = new Uint8Array(32);
/** Whether a withKey() holds the scratch (a `use` that calls withKey again reads its ring instead). */
let scratchBusy = false;

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
  /** AWS aliases (alias/…) → their records. */
  readonly aliases: Map<string, AliasRecord>;
  /** AWS access keys by id. */
  readonly accessKeys: Map<string, AccessKeyRecord>;
}

/** A new, empty enclave entry. */
export function enclaveEntry(record: EnclaveRecord): EnclaveEntry {
  // The listed maps keep their names sorted (sorted-map.ts); access keys are only looked up.
  return { record, keys: new KeyRings(), identities: new SortedMap(), policies: new SortedMap(), aliases: new SortedMap(), accessKeys: new Map() };
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
  /** Whether the cluster's admin API key is accepted (it is until an operator disables it). */
  adminKey: AdminKeySetting = { disabled: false, changedAt: 0, changedBy: "" };
  /** The configured HSM keys by fingerprint: the root key and backups are sealed for each. */
  readonly hsmKeys = new Map<string, HsmKeyRecord>();
  /** Deleted keys and enclaves kept for their recovery window, by deletion id. */
  readonly deleted = new Map<number, DeletedItem>();

  /**
   * Where the material of rings a lookup evicted from a cache goes: the
   * node's wiper, which zeroes it once no request holds it. Unset (a copy,
   * a tool): left to the collector.
   */
  set onDropped(to: ((arrays: Uint8Array[]) => void) | undefined) {
    this.#onDropped = to;
  }

  #onDropped: ((arrays: Uint8Array[]) => void) | undefined;

  /** The enclave `name`, or 404 "enclave does not exist". */
  enclave(name: string): EnclaveEntry {
    return found(this.enclaves.get(name), Errors.enclaveNotFound);
  }

  /** The key ring `name` in enclave `enclave`, or the matching 404. */
  keyRing(enclave: string, name: string): KeyRing {
    const keys = this.enclave(enclave).keys;
    const ring = keys.get(name);
    if (keys instanceof KeyRings) this.#drain(keys);
    return found(ring, Errors.keyNotFound);
  }

  /**
   * The key ring `name`, if it may be used for crypto now: a disabled or
   * pending-deletion key refuses it on every protocol.
   */
  usableKey(enclave: string, name: string): KeyRing {
    return usable(this.keyRing(enclave, name));
  }

  /** usableKey with the ring's binding (held with a ring read at start: GENERATE over many keys makes one per use otherwise). */
  usableBound(enclave: string, name: string): BoundRing {
    const keys = this.enclave(enclave).keys;
    if (keys instanceof KeyRings) {
      const bound = keys.bound(name);
      this.#drain(keys);
      usable(found(bound, Errors.keyNotFound).ring);
      return bound!;
    }
    const ring = usable(found(keys.get(name), Errors.keyNotFound));
    return { ring, binding: ringBinding(ring) };
  }

  /** Hands what `keys` evicted to onDropped (a lookup evicts at most one ring: this is O(1)). */
  #drain(keys: KeyRings): void {
    if (keys.hasDropped && this.#onDropped) this.#onDropped(keys.takeDropped());
  }

  /**
   * Runs `use` with version `version` (0 = latest) of the key `name`, if it
   * may be used now (as usableKey), and the key's binding; returns what `use`
   * returns. The latest version of a ring read at start in compact form is
   * read from the slab into scratch arrays (KeyRings.latestInto): they are
   * valid only while `use` runs, which must neither keep them nor key
   * anything by their identity (mac.ts's sub-keys are: KEY:MAC reads the
   * ring), and the material is zeroed when it returns.
   */
  withKey<T>(enclave: string, name: string, version: number, use: (kv: UsedVersion, binding: Uint8Array) => T): T {
    const keys = this.enclave(enclave).keys;
    if (version === 0 && !scratchBusy && keys instanceof KeyRings && keys.latestInto(enclave, name, SCRATCH, SCRATCH_BINDING)) {
      scratchBusy = true;
      try {
        return use(SCRATCH, SCRATCH_BINDING);
      } finally {
        SCRATCH.material.fill(0);
        scratchBusy = false;
      }
    }
    const { ring, binding } = this.usableBound(enclave, name);
    return use(versionOf(ring, version), binding);
  }

  #accessKeys?: Map<string, AccessKeyRecord>;

  /** The access key `id` in any enclave (ids are unique in the cluster), if there is one. */
  accessKey(id: string): AccessKeyRecord | undefined {
    if (!this.#accessKeys) {
      this.#accessKeys = new Map();
      for (const e of this.enclaves.values()) for (const [k, r] of e.accessKeys) this.#accessKeys.set(k, r);
    }
    return this.#accessKeys.get(id);
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
    this.#accessKeys = undefined;
  }

  /** Version `version` of a key (0 = latest), or 404 "key does not exist". */
  keyVersion(enclave: string, name: string, version: number): KeyVersion {
    return versionOf(this.keyRing(enclave, name), version);
  }
}

/** The ring, if it may be used for crypto now; else the error a disabled or pending-deletion key gives. */
function usable(ring: KeyRing): KeyRing {
  const state = ring.lifecycle?.state;
  if (state === "Disabled") throw Errors.keyDisabled();
  if (state === "PendingDeletion") throw Errors.keyPendingDeletion();
  return ring;
}

/** Version `version` of a ring already looked up (0 = latest), or 404 "key does not exist". */
export function versionOf(ring: KeyRing, version: number): KeyVersion {
  const v = version === 0 ? ring.versions[ring.versions.length - 1] : findVersion(ring, version);
  if (!v) throw Errors.keyNotFound();
  return v;
}

/** The version `version` of a ring, if it exists. */
export function findVersion(ring: KeyRing, version: number): KeyVersion | undefined {
  // Rings hold few versions; a linear scan beats a second index.
  for (const v of ring.versions) if (v.version === version) return v;
  return undefined;
}

/**
 * Lists names of a map with a prefix (and passing `visible`), sorted, starting at `continueAt`, at most `limit`.
 * O(log n + what it skips and takes) on a SortedMap; a plain Map (a frozen copy) is sorted whole.
 */
export function page<T>(
  entries: Map<string, T>,
  prefix: string,
  continueAt: string,
  limit: number,
  visible: (name: string) => boolean = () => true,
): Page<T> {
  if (!(entries instanceof SortedMap)) {
    const names = [...entries.keys()].filter((n) => n.startsWith(prefix) && n >= continueAt && visible(n)).sort();
    const taken = names.slice(0, limit);
    return { items: taken.map((n) => entries.get(n)!), continueAt: names.length > limit ? names[limit] : "" };
  }
  const items: T[] = [];
  let next = "";
  // Names with the prefix are one contiguous run of the sorted names, starting at the prefix itself.
  entries.scan(continueAt > prefix ? continueAt : prefix, (name) => {
    if (!name.startsWith(prefix)) return false;
    if (!visible(name)) return true;
    if (items.length === limit) {
      next = name;
      return false;
    }
    items.push(entries.get(name)!);
    return true;
  });
  return { items, continueAt: next };
}

/**
 * A copy of the state that later changes do not reach: the maps are copied,
 * the records they hold are never changed in place (apply.ts replaces them).
 * Cheap enough to take on a serving node (pointers only), so a backup sees one
 * point of the log while the node goes on applying.
 */
export function frozenCopy(state: State): State {
  const copy = new State();
  copy.commit = state.commit;
  copy.applied = state.applied;
  copy.maxNodeId = state.maxNodeId;
  copy.adminKey = state.adminKey;
  for (const [k, v] of state.hsmKeys) copy.hsmKeys.set(k, v);
  for (const [k, v] of state.deleted) copy.deleted.set(k, v);
  for (const [name, e] of state.enclaves) {
    copy.enclaves.set(name, { record: e.record, keys: e.keys instanceof KeyRings ? e.keys.copy() : new Map(e.keys), identities: new Map(e.identities), policies: new Map(e.policies), aliases: new Map(e.aliases), accessKeys: new Map(e.accessKeys) });
  }
  return copy;
}
