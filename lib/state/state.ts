import { Errors } from "./errors.ts";
import type { EnclaveRecord, KeyRing, KeyVersion } from "./types.ts";

/** An enclave with the keys it holds. */
export interface EnclaveEntry {
  readonly record: EnclaveRecord;
  readonly keys: Map<string, KeyRing>;
}

/** A page of a sorted listing; `continueAt` is empty on the last page. */
export interface Page<T> {
  readonly items: T[];
  readonly continueAt: string;
}

/** The whole KMS state, held in memory. Only apply.ts changes it. */
export class State {
  readonly enclaves = new Map<string, EnclaveEntry>();
  /** Number of state changes applied so far. */
  commit = 0;

  /** The enclave `name`, or 404 "enclave does not exist". */
  enclave(name: string): EnclaveEntry {
    const e = this.enclaves.get(name);
    if (!e) throw Errors.enclaveNotFound();
    return e;
  }

  /** The key ring `name` in enclave `enclave`, or the matching 404. */
  keyRing(enclave: string, name: string): KeyRing {
    const k = this.enclave(enclave).keys.get(name);
    if (!k) throw Errors.keyNotFound();
    return k;
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

/** Lists names of a map with a prefix, sorted, starting at `continueAt`, at most `limit`. */
export function page<T>(entries: Map<string, T>, prefix: string, continueAt: string, limit: number): Page<T> {
  const names = [...entries.keys()].filter((n) => n.startsWith(prefix) && n >= continueAt).sort();
  const taken = names.slice(0, limit);
  return {
    items: taken.map((n) => entries.get(n)!),
    continueAt: names.length > limit ? names[limit] : "",
  };
}
