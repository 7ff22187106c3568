/**
 * Login by proof of possession: the page signs the server's challenge with
 * the key pair it derived from the API key, and sends the public key and the
 * signature. The identity is the public key's `h1:` hash, exactly as for a
 * TLS client certificate; the API key itself never leaves the browser.
 */
import { Buffer } from "node:buffer";
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { identityOfPublicKey } from "../../identity/identity.ts";
import { loginMessage } from "./protocol.ts";

/** Curves of k2: API keys (ECDSA), and the hash Web Crypto signs with on each. */
const EC_HASHES: Readonly<Record<string, string>> = { prime256v1: "sha256", secp384r1: "sha384", secp521r1: "sha512" };

/** The public key in DER SPKI bytes if it is one an API key can have (Ed25519, ECDSA P-256/384/521). */
function apiKeyPublicKey(spki: Uint8Array): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    if (key.asymmetricKeyType === "ed25519") return key;
    if (key.asymmetricKeyType === "ec" && EC_HASHES[key.asymmetricKeyDetails?.namedCurve ?? ""]) return key;
  } catch {
    // not a public key at all
  }
  return undefined;
}

/**
 * The identity that signed `challenge`, or undefined when the key is not an
 * API key's or the signature does not verify. ECDSA signatures are in Web
 * Crypto's form (r ‖ s), hashed with the curve's own SHA-2.
 */
export function verifyLogin(challenge: string, spki: Uint8Array, signature: Uint8Array): string | undefined {
  const key = apiKeyPublicKey(spki);
  if (!key) return undefined;
  const message = loginMessage(challenge);
  let ok: boolean;
  try {
    ok = key.asymmetricKeyType === "ed25519"
      ? verify(null, message, key, signature)
      : verify(EC_HASHES[key.asymmetricKeyDetails!.namedCurve!], message, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return undefined;
  }
  // The key's canonical SPKI, as for an API key: another encoding of the same key is the same identity.
  return ok ? identityOfPublicKey(key) : undefined;
}
