/**
 * The cluster's configured HSM keys, as the replicated state holds them: the
 * public half of each (to seal the root key and backups for it) and the two
 * secrets a fresh node started with that key trusts for its join call
 * (docs/recovery.md). Never the HSM key itself.
 */
import type { SoftHsm } from "./soft.ts";
export { fingerprintOf } from "./public-seal.ts";

/** Seeds a fresh node derives from its HSM key to accept a join: its join CA and its join call sealing key. */
export interface JoinSecrets {
  readonly ca: Uint8Array;
  readonly rpc: Uint8Array;
}

/** One configured HSM key. */
export interface HsmKeyEntry {
  readonly fingerprint: string;
  readonly publicKey: Uint8Array;
  readonly join: JoinSecrets;
  readonly createdAt: number;
  readonly createdBy: string;
}

/**
 * The join secrets of `hsm`. They are the values the cluster CA and the node
 * RPC key had when every credential derived from the HSM key, so a cluster
 * made before cluster secrets existed keeps its CA (see credentials.ts).
 */
export function joinSecretsOf(hsm: SoftHsm): JoinSecrets {
  return { ca: hsm.derive("cluster-ca"), rpc: hsm.derive("node-rpc-seal") };
}

/** The state's entry for `hsm`, added at `at` by `by`. */
export function hsmKeyEntry(hsm: SoftHsm, at: number, by: string): HsmKeyEntry {
  return { fingerprint: hsm.fingerprint, publicKey: hsm.publicKey, join: joinSecretsOf(hsm), createdAt: at, createdBy: by };
}
