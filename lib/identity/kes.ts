/** KES names identities by lowercase hex of the same SHA-256 that `h1:` encodes as base64url. */
import { Buffer } from "node:buffer";

const H1 = /^h1:[A-Za-z0-9_-]{43}$/;
const HEX = /^[0-9a-f]{64}$/;

/** The KES hex form of an `h1:` identity; other strings are returned unchanged. */
export function kesHexOf(identity: string): string {
  return H1.test(identity) ? Buffer.from(identity.slice(3), "base64url").toString("hex") : identity;
}

/** The `h1:` form of a KES hex identity (any case); undefined when it is not 64 hex digits. */
export function h1OfKesHex(hex: string): string | undefined {
  const h = hex.trim().toLowerCase();
  return HEX.test(h) ? "h1:" + Buffer.from(h, "hex").toString("base64url") : undefined;
}

/** Whether text is a KES identity: 64 hex digits. */
export function isKesIdentity(text: string): boolean {
  return HEX.test(text.trim().toLowerCase());
}
