import { test } from "node:test";
import assert from "node:assert/strict";
import { HsmMismatchError, SoftHsm } from "./soft.ts";
import { sealTo } from "./public-seal.ts";

test("sealed to an HSM key's public half: only that key opens it, under the same label, undamaged", () => {
  const a = SoftHsm.parse(SoftHsm.generate());
  const b = SoftHsm.parse(SoftHsm.generate());
  const secret = new Uint8Array(64).map((_, i) => i);
  const sealed = sealTo(a.publicKey, secret, "kms/v1/root-key");
  assert.deepEqual(a.openSealed(sealed, "kms/v1/root-key"), secret);
  assert.notDeepEqual(sealTo(a.publicKey, secret, "kms/v1/root-key"), sealed, "a fresh ephemeral key each time");
  assert.throws(() => b.openSealed(sealed, "kms/v1/root-key"), HsmMismatchError);
  assert.throws(() => a.openSealed(sealed, "kms/v1/backup-key"), HsmMismatchError);
  for (let i = 0; i < sealed.length; i++) {
    const damaged = sealed.slice();
    damaged[i] ^= 1;
    assert.throws(() => a.openSealed(damaged, "kms/v1/root-key"), HsmMismatchError, `byte ${i}`);
  }
  // The same key text always has the same public half and fingerprint; another key another.
  const text = SoftHsm.generate();
  assert.deepEqual(SoftHsm.parse(text).publicKey, SoftHsm.parse(text).publicKey);
  assert.match(SoftHsm.parse(text).fingerprint, /^[0-9a-f]{16}$/);
  assert.notEqual(a.fingerprint, b.fingerprint);
});
