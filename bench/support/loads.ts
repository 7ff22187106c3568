/**
 * What a load generator sends: each kind of load turns into request bodies of
 * the native protocol (framed protobuf), built before the clock starts.
 */
import { encodeFrames } from "../../lib/wire/frames.ts";
import { encode } from "../../lib/wire/proto.ts";

/** A load, as passed to a worker process (plain JSON). */
export type Load =
  /** GENERATE: `frames` per request, each on a random key among `keys` named keyName(prefix, i). */
  | { readonly kind: "generate"; readonly enclave: string; readonly prefix: string; readonly keys: number; readonly frames: number }
  /** KEY:CREATE, one per request, of keys named keyName(prefix, i) for i counting up from `from` (below `to`, if set). */
  | { readonly kind: "create"; readonly enclave: string; readonly prefix: string; readonly from: number; readonly to?: number }
  /** KEY:LIST: one page of `limit` keys starting at `continueAt`. */
  | { readonly kind: "list"; readonly enclave: string; readonly continueAt: string; readonly limit: number };

/** The name of the i-th benchmark key: fixed width, so names sort in index order. */
export function keyName(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(9, "0")}`;
}

// The context MinIO sends with a DEK request (bucket and object): a realistic 60-byte message.
const ASSOCIATED_DATA = new TextEncoder().encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));
// At most this many GENERATE frames are pre-built per worker; requests cycle through them.
const FRAME_POOL = 1 << 18;

/** The path of an enclave's native endpoint. */
export function enclavePath(enclave: string): string {
  return `/v1/kms/${encodeURIComponent(enclave)}`;
}

/** Request bodies for a fixed-body load (generate, list); requests cycle through them. */
export function fixedBodies(load: Load): Uint8Array[] {
  switch (load.kind) {
    case "generate": {
      const frame = (i: number) => ({
        id: 207,
        payload: encode("GenerateKeyRequest", { name: keyName(load.prefix, i), associated_data: ASSOCIATED_DATA, length: 32 }),
      });
      if (load.keys === 1) return [encodeFrames(Array.from({ length: load.frames }, () => frame(0)))];
      // Enough bodies to touch each key about twice, within the pool's budget.
      const bodies = Math.max(1, Math.floor(Math.min(2 * load.keys, FRAME_POOL) / load.frames));
      return Array.from({ length: bodies }, () =>
        encodeFrames(Array.from({ length: load.frames }, () => frame(Math.floor(Math.random() * load.keys)))));
    }
    case "list":
      return [encodeFrames([{ id: 208, payload: encode("ListRequest", { prefix: "", continue_at: load.continueAt, limit: load.limit }) }])];
    case "create":
      throw new Error("create bodies differ per request: use createBody");
  }
}

/** The body of one KEY:CREATE request. */
export function createBody(name: string): Uint8Array {
  return encodeFrames([{ id: 201, payload: encode("CreateKeyRequest", { name, type: "", add_version: false }) }]);
}
