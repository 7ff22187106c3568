/**
 * The cluster's admin API key (privilege SysAdmin): derived from the HSM key
 * and the cluster id, so two clusters sharing an HSM key never share it, and
 * never stored in the state. Operators can disable it once a stored SysAdmin
 * exists (a replicated setting) and re-enable it with proof of the HSM key —
 * a proof the admin key itself does not give, so a leaked admin key cannot
 * turn itself back on. The files that help the CLI find it are server/admin-key.ts's.
 */
import { createHmac } from "node:crypto";
import { equal } from "../crypto/constant-time.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { apiKeyFromSeed, parseApiKey } from "../identity/apikey.ts";

/** What a cluster id looks like: 32 lowercase hex digits. */
export const CLUSTER_ID = /^[0-9a-f]{32}$/;

/** How far a re-enable proof's time may be from the node's clock. */
export const PROOF_WINDOW_MS = 5 * 60_000;

/** The admin API key of `cluster` under this HSM key. */
export function adminApiKey(hsm: SoftHsm, cluster: string): string {
  if (!CLUSTER_ID.test(cluster)) throw new RangeError("invalid cluster id");
  return apiKeyFromSeed(hsm.derive(`admin-api-key/${cluster}`));
}

/** The h1: identity of the admin API key of `cluster`. */
export function adminIdentityOf(hsm: SoftHsm, cluster: string): string {
  return parseApiKey(adminApiKey(hsm, cluster)).identity;
}

/** Proof of the HSM key for re-enabling the admin API key of `cluster` at time `at` (ms). */
export function adminKeyProof(hsm: SoftHsm, cluster: string, at: number): Uint8Array {
  const key = hsm.derive(`admin-key-recovery/${cluster}`);
  return new Uint8Array(createHmac("sha256", key).update(`kms/v1/admin-key/enable:${cluster}:${at}`).digest());
}

/** Whether `proof` is the HSM's proof for `cluster` at `at` (compared in constant time). */
export function validAdminKeyProof(hsm: SoftHsm, cluster: string, at: number, proof: Uint8Array): boolean {
  return equal(adminKeyProof(hsm, cluster, at), proof);
}
