import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { Buffer } from "node:buffer";
import { HsmKeyError, HsmMismatchError, SoftHsm } from "./soft.ts";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const enc = new TextEncoder();

test("generate yields hsm:aes256:<base64 of 32 bytes> that parses", () => {
  const text = SoftHsm.generate();
  assert.match(text, /^hsm:aes256:[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(text.slice("hsm:aes256:".length), "base64").length, 32);
  assert.ok(SoftHsm.parse(text) instanceof SoftHsm);
  assert.notEqual(SoftHsm.generate(), text);
});

test("parse round trip: the same text gives the same keys", () => {
  const text = SoftHsm.generate();
  const a = SoftHsm.parse(text);
  const b = SoftHsm.parse(text);
  assert.deepEqual(a.derive("x"), b.derive("x"));
  assert.deepEqual(b.unseal(a.seal(enc.encode("hi"), "l"), "l"), enc.encode("hi"));
  // Surrounding whitespace (a trailing newline from a file) is ignored.
  assert.deepEqual(SoftHsm.parse(` ${text}\n`).derive("x"), a.derive("x"));
});

test("parse rejects malformed keys with HsmKeyError that never quotes the input", () => {
  const k32 = new Uint8Array(32).fill(0x5a);
  const body = b64(k32);
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["   ", /empty/],
    ["hsm:aes128:" + body, /does not start with/],
    ["aes256:" + body, /does not start with/],
    [body, /does not start with/],
    ["HSM:AES256:" + body, /does not start with/],
    ["hsm:aes256:" + b64(new Uint8Array(31).fill(0x5a)), /exactly 32 bytes/],
    ["hsm:aes256:" + b64(new Uint8Array(33).fill(0x5a)), /exactly 32 bytes/],
    ["hsm:aes256:" + body.replace(/=$/, ""), /not standard padded base64/],
    // URL-safe alphabet: 0xfb bytes encode as "+/v7" in standard base64.
    ["hsm:aes256:" + b64(new Uint8Array(32).fill(0xfb)).replace(/\+/g, "-").replace(/\//g, "_"), /not standard padded base64/],
    ["hsm:aes256:" + "!".repeat(43) + "=", /not standard padded base64/],
    ["hsm:aes256:" + "zebra-secret-7731", /not standard padded base64/],
    ["hsm:aes256:", /exactly 32 bytes/],
    // Non-zero trailing bits: decodes to the same bytes as `body`, but is not the canonical text.
    ["hsm:aes256:" + body.slice(0, 42) + "b=", /canonical/],
  ];
  for (const [input, reason] of bad) {
    assert.throws(
      () => SoftHsm.parse(input),
      (err: unknown) => {
        assert.ok(err instanceof HsmKeyError, `HsmKeyError for ${JSON.stringify(input)}`);
        assert.match(err.message, /^MINIO_KMS_HSM_KEY is not a valid HSM key/);
        assert.match(err.message, /expected hsm:aes256:<base64 of 32 bytes>; create one with 'kms hsm new'/);
        assert.match(err.message, reason);
        const tail = input.trim().slice("hsm:aes256:".length);
        if (tail.length >= 4) assert.ok(!err.message.includes(tail), "message must not contain the key");
        assert.ok(!(err.stack ?? "").includes(body), "stack must not contain the key");
        assert.equal(err.cause, undefined);
        return true;
      },
    );
  }
  // Not a string at all (e.g. an unset variable slipping through).
  assert.throws(() => SoftHsm.parse(undefined as unknown as string), HsmKeyError);
});

test("parse names the source in the message when given one", () => {
  assert.throws(() => SoftHsm.parse("nope", "--hsm-key"), { name: "HsmKeyError", message: /^--hsm-key is not a valid HSM key/ });
});

test("seal/unseal round trip, with a fresh nonce each time", () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  for (const size of [0, 1, 32, 1000]) {
    const plaintext = new Uint8Array(size).map((_, i) => i * 7);
    const sealed = hsm.seal(plaintext, "kms/v1/root-key");
    assert.equal(sealed.length, 1 + 12 + size + 16);
    assert.equal(sealed[0], 1);
    assert.deepEqual(hsm.unseal(sealed, "kms/v1/root-key"), plaintext);
  }
  const p = enc.encode("same");
  assert.notDeepEqual(hsm.seal(p, "l"), hsm.seal(p, "l"));
});

test("unseal rejects a wrong label, another key and damaged data with HsmMismatchError", () => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const other = SoftHsm.parse(SoftHsm.generate());
  const sealed = hsm.seal(enc.encode("root key bytes"), "kms/v1/root-key");
  assert.throws(() => hsm.unseal(sealed, "kms/v1/root-keY"), HsmMismatchError);
  assert.throws(() => hsm.unseal(sealed, ""), HsmMismatchError);
  assert.throws(() => other.unseal(sealed, "kms/v1/root-key"), HsmMismatchError);
  for (let i = 0; i < sealed.length; i++) {
    const damaged = sealed.slice();
    damaged[i] ^= 0x01;
    assert.throws(() => hsm.unseal(damaged, "kms/v1/root-key"), HsmMismatchError, `flipped byte ${i}`);
  }
  assert.throws(() => hsm.unseal(sealed.subarray(0, sealed.length - 1), "kms/v1/root-key"), HsmMismatchError);
  assert.throws(() => hsm.unseal(new Uint8Array(0), "kms/v1/root-key"), HsmMismatchError);
});

test("derive is deterministic per label, differs across labels and keys", () => {
  const text = SoftHsm.generate();
  const hsm = SoftHsm.parse(text);
  const a1 = hsm.derive("admin-api-key");
  assert.equal(a1.length, 32);
  assert.deepEqual(SoftHsm.parse(text).derive("admin-api-key"), a1);
  assert.notDeepEqual(hsm.derive("cluster/peer"), a1);
  assert.notDeepEqual(SoftHsm.parse(SoftHsm.generate()).derive("admin-api-key"), a1);
  assert.equal(hsm.derive("admin-api-key", 64).length, 64);
  assert.deepEqual(hsm.derive("admin-api-key", 64).subarray(0, 32), a1); // HKDF prefix property
  assert.notDeepEqual(hsm.derive("hsm-seal"), a1);
});

test("logging or serialising the HSM shows no key material", () => {
  const key = new Uint8Array(32).map((_, i) => 0xa0 + i);
  const text = "hsm:aes256:" + b64(key);
  const hsm = SoftHsm.parse(text);
  const hex = Buffer.from(key).toString("hex");
  const shown = [
    inspect(hsm, { showHidden: true, depth: 10 }),
    String(hsm),
    JSON.stringify(hsm),
    JSON.stringify({ hsm }),
    Object.keys(hsm).join(","),
  ];
  const g = globalThis as { Bun?: { inspect(x: unknown): string }; Deno?: { inspect(x: unknown, o?: unknown): string } };
  if (g.Bun) shown.push(g.Bun.inspect(hsm));
  if (g.Deno) shown.push(g.Deno.inspect(hsm, { showHidden: true, depth: 10 }));
  for (const s of shown) {
    assert.ok(!s.includes(b64(key)), s);
    assert.ok(!s.toLowerCase().includes(hex.slice(0, 16)), s);
    // Inspectors dump typed arrays as decimal or hex byte lists.
    assert.ok(!/160,\s*161/.test(s) && !/a0 a1/i.test(s), s);
  }
});
