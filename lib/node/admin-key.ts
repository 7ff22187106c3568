/**
 * The cluster's admin API key (privilege SysAdmin): derived from the
 * cluster's credentials (credentials.ts), so two clusters never share it, it
 * survives HSM key rotation, and it is never stored in the state. Operators
 * can disable it once a stored SysAdmin exists (a replicated setting) and
 * re-enable it with proof of an HSM key — a proof the admin key itself does
 * not give, so a leaked admin key cannot turn itself back on. The files that
 * help the CLI find it are server/admin-key.ts's.
 */
import { createHmac } from "node:crypto";
import { equal } from "../crypto/constant-time.ts";
import { apiKeyFromSeed, parseApiKey } from "../identity/apikey.ts";
import type { ClusterCredentials } from "./credentials.ts";

/** What a cluster id looks like: 32 lowercase hex digits. */
export const CLUSTER_ID = /^[0-9a-f]{32}$/;

/** How far a re-enable proof's time may be from the node's clock. */
export const PROOF_WINDOW_MS = 5 * 60_000;

/** The admin API key of a cluster with these credentials. */
export function adminApiKey(creds: ClusterCredentials): string {
  return apiKeyFromSeed(creds.admin);
}

/** The h1: identity of the admin API key. */
export function adminIdentityOf(creds: ClusterCredentials): string {
  return parseApiKey(adminApiKey(creds)).identity;
}

/**
 * Proof, for re-enabling the admin API key of `cluster` at time `at` (ms), that
 * the caller unsealed a data directory of the cluster with one of its HSM keys.
 */
export function adminKeyProof(creds: ClusterCredentials, cluster: string, at: number): Uint8Array {
  return new Uint8Array(createHmac("sha256", creds.recovery).update(`kms/v1/admin-key/enable:${cluster}:${at}`).digest());
}

/** Whether `proof` is the proof for `cluster` at `at` (compared in constant time). */
export function validAdminKeyProof(creds: ClusterCredentials, cluster: string, at: number, proof: Uint8Array): boolean {
  return equal(adminKeyProof(creds, cluster, at), proof);
}
