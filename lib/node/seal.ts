/**
 * Node-to-node payloads: JSON with byte arrays as base64, sealed under the
 * cluster's RPC key (one of its credentials, which only its nodes hold) and
 * bound to the RPC path. A node without it can neither read nor forge any of them.
 */
import * as v from "valibot";
import { decrypt, encrypt, purposeBinding } from "../crypto/ciphertext.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";

const BYTES = "$bytes";

/** JSON text of a value whose Uint8Arrays become {"$bytes": base64}. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, x) => (x instanceof Uint8Array ? { [BYTES]: encodeBase64(x) } : x));
}

/** The inverse of toJson. */
export function fromJson(text: string): unknown {
  return JSON.parse(text, (_k, x) =>
    x !== null && typeof x === "object" && typeof x[BYTES] === "string" && Object.keys(x).length === 1
      ? decodeBase64(x[BYTES])
      : x);
}

const RPC_BINDING = purposeBinding("node-rpc");

// The v1 ciphertext format derives a fresh key per message from a random iv,
// so the many small messages of a busy cluster never strain a GCM nonce budget.
/** Seals a payload for the RPC `path` under `rpcKey` (the cluster's, or a fresh node's join key). */
export function sealPayload(rpcKey: Uint8Array, path: string, value: unknown): Uint8Array {
  return encrypt("AES256", rpcKey, 0, new TextEncoder().encode(toJson(value)), new TextEncoder().encode(`kms/v1/rpc${path}`), RPC_BINDING);
}

/** Opens a payload sealed for `path`; throws when it was not sealed under `rpcKey`. */
export function openPayload(rpcKey: Uint8Array, path: string, sealed: Uint8Array): unknown {
  const plaintext = decrypt("AES256", rpcKey, sealed, new TextEncoder().encode(`kms/v1/rpc${path}`), RPC_BINDING);
  if (!plaintext) throw new Error("the payload is not sealed with this cluster's key");
  return fromJson(new TextDecoder().decode(plaintext));
}

const Int = v.pipe(v.number(), v.integer(), v.minValue(-1));
/** The envelope every replication message must have; the core checks the rest by type. */
export const MessageSchema = v.looseObject({
  type: v.picklist(["vote", "voteResp", "append", "appendResp", "snapshot"]),
  cluster: v.string(),
  from: Int,
  to: Int,
  term: Int,
});
