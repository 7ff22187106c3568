/**
 * The cluster's credentials: four random secrets made with the cluster and
 * kept, sealed, in every node's root.seal (and in backups), from which the
 * cluster CA, the node RPC sealing key and the admin API key derive. They do
 * not depend on the HSM key, so the HSM key can rotate under a running cluster
 * while nodes keep trusting each other and clients keep the same CA file and
 * admin API key (docs/recovery.md). The data directory's copy is read by server/admin-key.ts.
 */
import * as v from "valibot";
import { randomBytes } from "../crypto/random.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import type { SoftHsm } from "../hsm/soft.ts";

/** Seeds of the cluster CA, the RPC sealing key, the admin API key and its re-enable proof. */
export interface ClusterCredentials {
  readonly ca: Uint8Array;
  readonly rpc: Uint8Array;
  readonly admin: Uint8Array;
  readonly recovery: Uint8Array;
}

const NAMES = ["ca", "rpc", "admin", "recovery"] as const;
const Seed = v.pipe(v.instance(Uint8Array), v.length(32));
/** The credentials as they travel in a join call (32-byte arrays). */
export const CredentialsSchema = v.object({ ca: Seed, rpc: Seed, admin: Seed, recovery: Seed });
const Encoded = v.object({ version: v.literal(1), ...Object.fromEntries(NAMES.map((n) => [n, v.pipe(v.string(), v.base64(), v.length(44))])) });

/** Fresh random credentials for a new cluster. */
export function newCredentials(): ClusterCredentials {
  return { ca: randomBytes(32), rpc: randomBytes(32), admin: randomBytes(32), recovery: randomBytes(32) };
}

/**
 * The credentials of a cluster made before they existed: then each derived
 * from the HSM key (and the cluster id). Kept as they were, so its CA file and
 * admin API key do not change when it moves to stored credentials.
 */
export function legacyCredentials(hsm: SoftHsm, cluster: string): ClusterCredentials {
  return {
    ca: hsm.derive("cluster-ca"),
    rpc: hsm.derive("node-rpc-seal"),
    admin: hsm.derive(`admin-api-key/${cluster}`),
    recovery: hsm.derive(`admin-key-recovery/${cluster}`),
  };
}

/** The credentials as bytes (what root.seal and backups carry, sealed). */
export function encodeCredentials(c: ClusterCredentials): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, ...Object.fromEntries(NAMES.map((n) => [n, encodeBase64(c[n])])) }));
}

/** The inverse of encodeCredentials; throws (naming nothing secret) when the bytes are not credentials. */
export function decodeCredentials(bytes: Uint8Array): ClusterCredentials {
  let parsed: Record<string, string>;
  try {
    parsed = v.parse(Encoded, JSON.parse(new TextDecoder().decode(bytes))) as unknown as Record<string, string>;
  } catch {
    throw new Error("the sealed cluster credentials are malformed");
  }
  return { ca: decodeBase64(parsed.ca), rpc: decodeBase64(parsed.rpc), admin: decodeBase64(parsed.admin), recovery: decodeBase64(parsed.recovery) };
}
