/**
 * Node-to-node payloads: JSON with byte arrays as base64, sealed under the
 * cluster's RPC key (one of its credentials, which only its nodes hold) and
 * bound to the RPC path. A node without it can neither read nor forge any of them.
 */
import * as v from "valibot";
import { decrypt, encrypt, purposeBinding } from "../crypto/ciphertext.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";

const BYTES = "$bytes";

const bytesReplacer = (_k: string, x: unknown) => (x instanceof Uint8Array ? { [BYTES]: encodeBase64(x) } : x);
const bytesReviver = (_k: string, x: { [BYTES]?: unknown } | null) =>
  x !== null && typeof x === "object" && typeof x[BYTES] === "string" && Object.keys(x).length === 1
    ? decodeBase64(x[BYTES])
    : x;

/**
 * JSON text of a value whose Uint8Arrays become {"$bytes": base64}. The
 * replacer runs only when the value holds bytes: called for every key, it made
 * a log entry's JSON ~4× dearer, and most payloads (entries, appends) hold none.
 */
export function toJson(value: unknown): string {
  return holdsBytes(value) ? JSON.stringify(value, bytesReplacer) : JSON.stringify(value);
}

/** The inverse of toJson (the reviver, ~10× a plain parse, only when the text may hold bytes). */
export function fromJson(text: string): unknown {
  return text.includes(`"${BYTES}"`) ? JSON.parse(text, bytesReviver) : JSON.parse(text);
}

/** Whether a Uint8Array is anywhere inside `value` (what toJson's replacer would change). */
function holdsBytes(value: unknown): boolean {
  if (value instanceof Uint8Array) return true;
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (const x of value) if (holdsBytes(x)) return true;
    return false;
  }
  for (const k in value) if (holdsBytes((value as Record<string, unknown>)[k])) return true;
  return false;
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
