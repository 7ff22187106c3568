import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { identityOfCertificate, identityOfPublicKey, identityOfSpki, kesIdentityOfSpki } from "./identity.ts";
import { openssl, withTempDir } from "../../tests/support/openssl.ts";
import { join } from "node:path";

test("identity of an openssl Ed25519 key is sha256 of openssl's SPKI in base64url", async () => {
  await withTempDir((dir) => {
    const keyPath = join(dir, "k.pem");
    openssl(["genpkey", "-algorithm", "ed25519", "-out", keyPath]);
    const spki = openssl(["pkey", "-in", keyPath, "-pubout", "-outform", "der"]);
    const digest = createHash("sha256").update(spki).digest();
    const expected = "h1:" + digest.toString("base64url");

    const key = createPrivateKey(readFileSync(keyPath));
    assert.equal(identityOfPublicKey(key), expected);
    assert.equal(identityOfPublicKey(createPublicKey(key)), expected);
    assert.equal(identityOfSpki(new Uint8Array(spki)), expected);
    assert.equal(kesIdentityOfSpki(new Uint8Array(spki)), digest.toString("hex"));
    assert.match(expected, /^h1:[A-Za-z0-9_-]{43}$/);

    // A certificate made by openssl, as DER and PEM: the reader must find the same SPKI.
    const certPath = join(dir, "c.pem");
    openssl(["req", "-x509", "-new", "-key", keyPath, "-subj", "/CN=x", "-days", "1", "-out", certPath]);
    const pem = readFileSync(certPath, "utf8");
    const certDer = openssl(["x509", "-in", certPath, "-outform", "der"]);
    assert.equal(identityOfCertificate(pem), expected);
    assert.equal(identityOfCertificate(new Uint8Array(certDer)), expected);
  });
});

test("identity of an openssl ECDSA certificate (v3 with extensions)", async () => {
  await withTempDir((dir) => {
    const keyPath = join(dir, "k.pem");
    openssl(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", keyPath]);
    const spki = openssl(["pkey", "-in", keyPath, "-pubout", "-outform", "der"]);
    const expected = "h1:" + createHash("sha256").update(spki).digest("base64url");
    const certPath = join(dir, "c.pem");
    openssl(["req", "-x509", "-new", "-key", keyPath, "-subj", "/CN=y/O=z", "-addext", "subjectAltName=DNS:a.example", "-days", "1", "-out", certPath]);
    assert.equal(identityOfCertificate(readFileSync(certPath, "utf8")), expected);
  });
});

test("KES identity is lowercase hex of the same hash", () => {
  const { publicKey } = generateKeyPairSync("ed25519");
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const kes = kesIdentityOfSpki(spki);
  assert.match(kes, /^[0-9a-f]{64}$/);
  assert.equal(Buffer.from(kes, "hex").toString("base64url"), identityOfSpki(spki).slice(3));
});

test("identityOfCertificate rejects non-certificates", () => {
  assert.throws(() => identityOfCertificate("hello"), /no PEM CERTIFICATE/);
  assert.throws(() => identityOfCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), /not an X.509 certificate/);
  assert.throws(() => identityOfCertificate(new Uint8Array(0)));
});

test("identity of a certificate with a compressed EC point hashes the SPKI as written", async () => {
  await withTempDir((dir) => {
    const keyPath = join(dir, "k.pem");
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyPath]);
    const compressed = join(dir, "c.key");
    openssl(["ec", "-in", keyPath, "-conv_form", "compressed", "-out", compressed]);
    const spki = openssl(["ec", "-in", compressed, "-pubout", "-conv_form", "compressed", "-outform", "der"]);
    assert.equal(spki.length, 59); // 33-byte point: the runtime's own export would be the 65-byte one
    const certPath = join(dir, "c.pem");
    openssl(["req", "-x509", "-new", "-key", compressed, "-subj", "/CN=c", "-days", "1", "-out", certPath]);
    assert.equal(identityOfCertificate(readFileSync(certPath, "utf8")), "h1:" + createHash("sha256").update(spki).digest("base64url"));
  });
});
