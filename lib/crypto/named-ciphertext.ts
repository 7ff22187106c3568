/**
 * A ciphertext that names its key, for APIs whose Decrypt takes no key name
 * (AWS KMS's CiphertextBlob):
 *
 *   v3: 0x6B 0x03 | name length (uint8) | key name (1–80 ASCII) | v2 ciphertext
 *
 * The inner v2 ciphertext (ciphertext.ts) names the key version and is bound
 * to the key's enclave and name; its associated data is the v3 header
 * followed by the caller's associated data, so neither the name nor the
 * format can be changed without the ciphertext failing to open.
 *
 * encodeContext makes AWS's EncryptionContext (string → string) associated
 * data without ambiguity: sorted pairs, each string length-prefixed, so
 * {"a":"bc"} and {"ab":"c"} differ (unlike a plain concatenation).
 */
const MAGIC = 0x6b;
const FORMAT_V3 = 0x03;
const MAX_NAME = 80;

/** A parsed v3 ciphertext: the key it names, its header (part of the AAD) and the inner v2 ciphertext. */
export interface NamedCiphertext {
  readonly name: string;
  readonly header: Uint8Array;
  readonly inner: Uint8Array;
}

/** The v3 header for key `name`. */
export function namedHeader(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length < 1 || bytes.length > MAX_NAME) throw new RangeError("named ciphertext: the key name must be 1 to 80 bytes");
  const h = new Uint8Array(3 + bytes.length);
  h[0] = MAGIC;
  h[1] = FORMAT_V3;
  h[2] = bytes.length;
  h.set(bytes, 3);
  return h;
}

/** The v3 ciphertext of `inner` (a v2 ciphertext whose associated data began with `header`). */
export function joinNamed(header: Uint8Array, inner: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + inner.length);
  out.set(header);
  out.set(inner, header.length);
  return out;
}

/** Parses a v3 ciphertext; undefined when `ct` is not one. */
export function parseNamed(ct: Uint8Array): NamedCiphertext | undefined {
  if (ct.length < 4 || ct[0] !== MAGIC || ct[1] !== FORMAT_V3) return undefined;
  const n = ct[2];
  if (n < 1 || n > MAX_NAME || ct.length <= 3 + n) return undefined;
  const header = ct.subarray(0, 3 + n);
  let name: string;
  try {
    name = new TextDecoder("utf-8", { fatal: true }).decode(header.subarray(3));
  } catch {
    return undefined;
  }
  return { name, header, inner: ct.subarray(3 + n) };
}

/** Header ‖ associated data: what the inner ciphertext authenticates. */
export function namedAad(header: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const aad = new Uint8Array(header.length + associatedData.length);
  aad.set(header);
  aad.set(associatedData, header.length);
  return aad;
}

/** An encryption context as unambiguous bytes: count, then each (key, value) sorted by key, all length-prefixed (uint32 BE). */
export function encodeContext(context: Readonly<Record<string, string>> | undefined): Uint8Array {
  const enc = new TextEncoder();
  const pairs = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  const size = 4 + pairs.reduce((n, [k, v]) => n + 8 + k.length + v.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, pairs.length);
  let at = 4;
  for (const part of pairs.flat()) {
    view.setUint32(at, part.length);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}
