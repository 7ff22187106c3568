/** KES names identities by lowercase hex of the same SHA-256 that `h1:` encodes as base64url. */
import { Buffer } from "node:buffer";
import { decodeBase64Url, encodeBase64Url } from "../encoding/base64.ts";

const H1 = /^h1:[A-Za-z0-9_-]{43}$/;
const HEX = /^[0-9a-f]{64}$/;

/** The KES hex form of an `h1:` identity; other strings are returned unchanged. */
export function kesHexOf(identity: string): string {
  return H1.test(identity) ? Buffer.from(decodeBase64Url(identity.slice(3))).toString("hex") : identity;
}

/** The `h1:` form of a KES hex identity (any case); undefined when it is not 64 hex digits. */
export function h1OfKesHex(hex: string): string | undefined {
  const h = hex.trim().toLowerCase();
  return HEX.test(h) ? "h1:" + encodeBase64Url(Buffer.from(h, "hex")) : undefined;
}

