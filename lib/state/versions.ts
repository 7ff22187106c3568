import { Errors } from "./errors.ts";
import type { KeyRing, KeyVersion } from "./types.ts";

/**
 * Most versions one key may hold: each costs memory and a little work on every
 * decryption that names it, and the key's record is rewritten whole on each
 * rotation. Deleting old versions (rm-key --version N) makes room.
 */
export const MAX_KEY_VERSIONS = 1000;

/** The ring with one more version (numbered `nextVersion`, never reused); 409 when it holds the most it may. */
export function withVersion(ring: KeyRing, version: Omit<KeyVersion, "version">): KeyRing {
  if (ring.versions.length >= MAX_KEY_VERSIONS) throw Errors.tooManyVersions(MAX_KEY_VERSIONS);
  const number = ring.nextVersion;
  return { ...ring, versions: [...ring.versions, { version: number, ...version }], nextVersion: number + 1 };
}
