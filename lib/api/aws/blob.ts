/** AWS CiphertextBlobs: named ciphertexts (crypto/named-ciphertext.ts) under a key's latest version, bound to the encryption context. */
import { ciphertextVersion, decrypt, encrypt } from "../../crypto/ciphertext.ts";
import { ringBinding } from "../../crypto/keyring.ts";
import { encodeContext, joinNamed, namedAad, namedHeader, type NamedCiphertext } from "../../crypto/named-ciphertext.ts";
import { findVersion } from "../../state/state.ts";
import type { KeyRing } from "../../state/types.ts";

/** Encrypts `plaintext` under the latest version of `ring`, bound to `context`. */
export function sealBlob(ring: KeyRing, plaintext: Uint8Array, context: Readonly<Record<string, string>> | undefined): Uint8Array {
  const kv = ring.versions[ring.versions.length - 1];
  const header = namedHeader(ring.name);
  return joinNamed(header, encrypt(kv.type, kv.material, kv.version, plaintext, namedAad(header, encodeContext(context)), ringBinding(ring)));
}

/** Opens a blob that names `ring` with `context`; null when it does not open (wrong context, changed bytes, a deleted version). */
export function openBlob(ring: KeyRing, blob: NamedCiphertext, context: Readonly<Record<string, string>> | undefined): Uint8Array | null {
  if (blob.inner[1] !== 0x02) return null; // only v2 (bound to the key's name) inside
  const version = ciphertextVersion(blob.inner);
  const kv = version === undefined ? undefined : findVersion(ring, version);
  if (!kv) return null;
  return decrypt(kv.type, kv.material, blob.inner, namedAad(blob.header, encodeContext(context)), ringBinding(ring));
}
