/**
 * Node-to-node payloads: JSON with byte arrays as base64, sealed under a key
 * only holders of the cluster's HSM key can derive, and bound to the RPC path.
 * A node without the HSM key can neither read nor forge any of them.
 */
import * as v from "valibot";
import type { SoftHsm } from "../hsm/soft.ts";

const BYTES = "$bytes";

/** JSON text of a value whose Uint8Arrays become {"$bytes": base64}. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, x) => (x instanceof Uint8Array ? { [BYTES]: Buffer.from(x).toString("base64") } : x));
}

/** The inverse of toJson. */
export function fromJson(text: string): unknown {
  return JSON.parse(text, (_k, x) =>
    x !== null && typeof x === "object" && typeof x[BYTES] === "string" && Object.keys(x).length === 1
      ? new Uint8Array(Buffer.from(x[BYTES], "base64"))
      : x);
}

/** Seals a payload for the RPC `path`. */
export function sealPayload(hsm: SoftHsm, path: string, value: unknown): Uint8Array {
  return hsm.seal(new TextEncoder().encode(toJson(value)), `kms/v1/rpc${path}`);
}

/** Opens a payload sealed for `path`; throws when it was not sealed by a holder of the HSM key. */
export function openPayload(hsm: SoftHsm, path: string, sealed: Uint8Array): unknown {
  return fromJson(new TextDecoder().decode(hsm.unseal(sealed, `kms/v1/rpc${path}`)));
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
