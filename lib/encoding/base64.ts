/** Base64 and base64url (RFC 4648) of bytes: the one place kms spells them. */
import { Buffer } from "node:buffer";

const buf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Standard base64 of bytes. */
export function encodeBase64(bytes: Uint8Array): string {
  return buf(bytes).toString("base64");
}

/** Bytes of standard base64 text (lenient, as Buffer is: invalid characters are skipped). */
export function decodeBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Unpadded base64url of bytes. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return buf(bytes).toString("base64url");
}

/** Bytes of base64url text (lenient). */
export function decodeBase64Url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64url"));
}

/** Bytes of `text` only when it is exactly the canonical base64 (or base64url) of them; else undefined. */
export function decodeCanonical(text: string, url = false): Uint8Array | undefined {
  const bytes = url ? decodeBase64Url(text) : decodeBase64(text);
  return (url ? encodeBase64Url(bytes) : encodeBase64(bytes)) === text ? bytes : undefined;
}
