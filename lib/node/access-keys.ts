/**
 * AWS access keys (issue 15): an id and a secret access key, bound to an
 * identity of an enclave. The server must know the secret to check SigV4
 * signatures, so it cannot keep a hash: the state holds the secret sealed
 * under a key derived from the HSM key and the cluster id (so the replicated
 * log, snapshots and backups never carry it in the clear, and another
 * cluster cannot open it), bound to the access key's id.
 */
import { decrypt, encrypt, purposeBinding } from "../crypto/ciphertext.ts";
import { randomBytes } from "../crypto/random.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import type { AccessKeyRecord } from "../state/lifecycle.ts";
import type { KmsNode } from "./node.ts";

const BINDING = purposeBinding("aws-access-key");
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** A fresh access key id: "KMSK" and 16 base32 characters (20, like AWS's). */
export function newAccessKeyId(): string {
  return "KMSK" + [...randomBytes(16)].map((b) => BASE32[b & 31]).join("");
}

/** A fresh secret access key: 40 characters of base64 (30 random bytes), like AWS's. */
export function newSecret(): string {
  return encodeBase64(randomBytes(30));
}

const keys = new WeakMap<KmsNode, { cluster: string; key: Uint8Array }>();

/** The sealing key of this node's cluster (derived from the HSM key and the cluster id). */
export function sealKey(node: KmsNode): Uint8Array {
  let hit = keys.get(node);
  if (hit?.cluster !== node.cluster) keys.set(node, hit = { cluster: node.cluster, key: node.clusterKey("aws-access-keys") });
  return hit.key;
}

/** The secret sealed for access key `id`, base64. */
export function sealSecret(key: Uint8Array, id: string, secret: string): string {
  return encodeBase64(encrypt("AES256", key, 1, new TextEncoder().encode(secret), new TextEncoder().encode(id), BINDING));
}

const opened = new WeakMap<AccessKeyRecord, string>();

/** The secret of an access key record, or undefined when it does not open (another cluster's). */
export function openSecret(key: Uint8Array, record: AccessKeyRecord): string | undefined {
  const hit = opened.get(record);
  if (hit !== undefined) return hit;
  const plain = decrypt("AES256", key, decodeBase64(record.sealed), new TextEncoder().encode(record.id), BINDING);
  if (!plain) return undefined;
  const secret = new TextDecoder().decode(plain);
  opened.set(record, secret);
  return secret;
}
