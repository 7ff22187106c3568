/**
 * Node-to-node payloads: JSON with byte arrays as base64, sealed under a key
 * only holders of the cluster's HSM key can derive, and bound to the RPC path.
 * A node without the HSM key can neither read nor forge any of them.
 */
import * as v from "valibot";
import { decrypt, encrypt, purposeBinding } from "../crypto/ciphertext.ts";
import type { SoftHsm } from "../hsm/soft.ts";
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

const rpcKeys = new WeakMap<SoftHsm, Uint8Array>();
const RPC_BINDING = purposeBinding("node-rpc");

/** The RPC sealing key, derived once per HSM (never the key that seals the root key). */
function rpcKey(hsm: SoftHsm): Uint8Array {
  let key = rpcKeys.get(hsm);
  if (!key) rpcKeys.set(hsm, key = hsm.derive("node-rpc-seal"));
  return key;
}

// The v1 ciphertext format derives a fresh key per message from a random iv,
// so the many small messages of a busy cluster never strain a GCM nonce budget.
/** Seals a payload for the RPC `path`. */
export function sealPayload(hsm: SoftHsm, path: string, value: unknown): Uint8Array {
  return encrypt("AES256", rpcKey(hsm), 0, new TextEncoder().encode(toJson(value)), new TextEncoder().encode(`kms/v1/rpc${path}`), RPC_BINDING);
}

/** Opens a payload sealed for `path`; throws when it was not sealed by a holder of the HSM key. */
export function openPayload(hsm: SoftHsm, path: string, sealed: Uint8Array): unknown {
  const plaintext = decrypt("AES256", rpcKey(hsm), sealed, new TextEncoder().encode(`kms/v1/rpc${path}`), RPC_BINDING);
  if (!plaintext) throw new Error("the payload is not sealed with this cluster's HSM key");
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
