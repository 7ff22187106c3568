/**
 * Test fixture: seeded generators of hostile inputs: native-protocol bodies (frame headers
 * and protobuf payloads, valid ones mutated) and KES JSON bodies (wrong
 * types, missing fields, bad base64, malformed JSON). Input i of seed s is a
 * pure function of (s, i), so a failing input reproduces from its seed.
 */
import { encode } from "../../lib/wire/proto.ts";
import { Prng } from "../../lib/cluster/prng.ts";

/** One request to send. */
export interface FuzzInput {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
}

/** Commands whose valid payloads are mutated (membership changes and enclave deletion are left out: they act on the cluster). */
const NATIVE: ReadonlyArray<[number, string, Record<string, unknown>]> = [
  [3, "ClusterStatusRequest", {}],
  [103, "EnclaveStatusRequest", { name: "fuzz" }],
  [104, "ListRequest", { prefix: "", continue_at: "", limit: 10 }],
  [201, "CreateKeyRequest", { name: "fz-new", type: "AES256", add_version: false }],
  [203, "ImportKeyRequest", { name: "fz-imp", type: "ChaCha20", key: new Uint8Array(32) }],
  [204, "KeyStatusRequest", { name: "k", version: 0 }],
  [205, "EncryptRequest", { name: "k", version: 0, plaintext: new Uint8Array([1, 2, 3]), associated_data: new Uint8Array([4]) }],
  [206, "DecryptRequest", { name: "k", version: 0, ciphertext: new Uint8Array(60), associated_data: new Uint8Array() }],
  [207, "GenerateKeyRequest", { name: "k", version: 0, associated_data: new Uint8Array([9]), length: 32 }],
  [208, "ListRequest", { prefix: "", continue_at: "", limit: 0 }],
  [210, "MACRequest", { name: "k", version: 0, message: new Uint8Array([7, 7]) }],
  [304, "PolicyRequest", { name: "p" }],
  [403, "IdentityRequest", { identity: "h1:" + "A".repeat(43) }],
];
/** Ids that may only carry garbage (the real ones would change membership or delete data). */
const GARBAGE_ONLY = [0, 1, 2, 4, 5, 6, 101, 102, 202, 209, 301, 302, 303, 305, 306, 401, 402, 404, 999, 65535];

function bytes(r: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

/** Mutates bytes: flips, truncations, insertions, overwrites with boundary values. */
function mutate(r: Prng, b: Uint8Array): Uint8Array {
  let out = b.slice();
  for (let n = 1 + r.int(3); n > 0; n--) {
    switch (r.int(5)) {
      case 0: if (out.length) out[r.int(out.length)] ^= 1 << r.int(8); break;
      case 1: out = out.subarray(0, r.int(out.length + 1)); break;
      case 2: { const at = r.int(out.length + 1); out = new Uint8Array([...out.subarray(0, at), ...bytes(r, 1 + r.int(8)), ...out.subarray(at)]); break; }
      case 3: if (out.length) out[r.int(out.length)] = r.pick([0, 0x7f, 0x80, 0xff]); break;
      case 4: out = new Uint8Array([...out, ...r.pick([[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x12, 0xff, 0xff, 0xff, 0x0f], [0x1a, 0x05, 1], [0x7a, 0x00]])]); break;
    }
  }
  return out;
}

function frame(id: number, payload: Uint8Array, declared = payload.length): Uint8Array {
  const out = new Uint8Array(6 + payload.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, id);
  v.setUint32(2, declared);
  out.set(payload, 6);
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
};

/** A native-protocol body: garbage, a mutated valid frame, lying lengths, or a pipelined mix. */
function nativeBody(r: Prng): { kind: string; body: Uint8Array } {
  const valid = () => {
    const [id, name, msg] = r.pick(NATIVE);
    return frame(id, encode(name, msg));
  };
  switch (r.int(6)) {
    case 0: return { kind: "native: random bytes", body: bytes(r, r.int(64)) };
    case 1: {
      const [id, name, msg] = r.pick(NATIVE);
      return { kind: `native: mutated ${name}`, body: frame(id, mutate(r, encode(name, msg))) };
    }
    case 2: return { kind: "native: garbage payload", body: frame(r.pick(GARBAGE_ONLY), bytes(r, r.int(40))) };
    case 3: {
      const p = encode("KeyStatusRequest", { name: "k" });
      return { kind: "native: lying length", body: frame(204, p, r.pick([0, p.length + 1, 0xffffffff, r.int(1 << 20)])) };
    }
    case 4: return { kind: "native: pipelined", body: concat(Array.from({ length: 2 + r.int(6) }, () => (r.chance(0.7) ? valid() : frame(r.int(400), bytes(r, r.int(16)))))) };
    default: return { kind: "native: mutated frames", body: mutate(r, concat([valid(), valid()])) };
  }
}

const B64 = () => Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");

/** A JSON value of a random type, or a string that is almost base64. */
function jsonValue(r: Prng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 7 : 10)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER]);
    case 3: return "";
    case 4: return r.pick(["%%%", "AAA", "AAAA=", "=AAA", "AA==AA", "\u0000", "é", B64(), "YQ"]);
    case 5: return Buffer.from(bytes(r, r.int(48))).toString("base64");
    case 6: return "x".repeat(r.int(300));
    case 7: return Array.from({ length: r.int(4) }, () => jsonValue(r, depth + 1));
    case 8: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(["key", "context", "plaintext", "a", "__proto__"]), jsonValue(r, depth + 1)]));
    default: return { nested: jsonValue(r, depth + 1) };
  }
}

const KES_ROUTES = [
  ["generate", ["context"]],
  ["encrypt", ["plaintext", "context"]],
  ["decrypt", ["ciphertext", "context"]],
  ["hmac", ["message"]],
  ["import", ["key", "cipher", "bytes", "algorithm"]],
] as const;

/** A KES JSON body: the route's fields with random values, some missing or extra, or text that is not JSON. */
function kesBody(r: Prng, i: number): { kind: string; path: string; body: Uint8Array } {
  const [op, fields] = r.pick(KES_ROUTES);
  const path = `/v1/key/${op}/${op === "import" ? `fz-${i}` : "k"}`;
  let text: string;
  switch (r.int(5)) {
    case 0: text = r.pick(["", "{", "}", "[]", "null", "1", '"x"', "{\"a\":}", "{\"key\":\"AA\"", "\u0000", "{\"context\": NaN}"]); break;
    case 1: text = Buffer.from(bytes(r, r.int(32))).toString("latin1"); break;
    case 2: text = JSON.stringify(jsonValue(r)); break;
    default: {
      const o: Record<string, unknown> = {};
      for (const f of fields) if (r.chance(0.7)) o[f] = r.chance(0.5) ? jsonValue(r) : f === "cipher" || f === "algorithm" ? r.pick(["AES256", "ChaCha20", "x", ""]) : B64();
      if (r.chance(0.2)) o[String(r.pick(["extra", "x", "key"]))] = jsonValue(r);
      text = JSON.stringify(o);
      if (r.chance(0.2)) text = text.slice(0, r.int(text.length + 1));
    }
  }
  return { kind: `kes: ${op}`, path, body: new TextEncoder().encode(text) };
}

/** Input i of seed s. */
export function fuzzInput(seed: number, i: number): FuzzInput {
  const r = new Prng(seed * 1_000_003 + i);
  if (r.chance(0.5)) {
    const { kind, body } = nativeBody(r);
    return { kind, method: "POST", path: "/v1/kms/fuzz", body, headers: { "content-type": "application/octet-stream", accept: r.pick(["application/*", "application/json"]) } };
  }
  const { kind, path, body } = kesBody(r, i);
  return { kind, method: r.pick(["POST", "PUT"]), path, body, headers: r.chance(0.5) ? { "content-type": "application/json" } : {} };
}

/** The seed of a fuzz run: KMS_FUZZ_SEED when set (to reproduce a failure), else a fresh one. */
export function fuzzSeed(): number {
  const env = typeof process !== "undefined" ? process.env.KMS_FUZZ_SEED : undefined;
  return env !== undefined ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}
