import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } from "node:crypto";
import { inspect } from "node:util";
import { apiKeyFromSeed, clientCredentials, InvalidApiKeyError, newApiKey, parseApiKey } from "./apikey.ts";
import { identityOfCertificate } from "./identity.ts";
import { curveOrder, openssl } from "../../tests/support/openssl.ts";

const EXAMPLE = "k1:d7cY_5k8HbBGkZpoy2hGmvkxg83QDBXsA_nFXDfTk2E";

/** h1 identity computed directly, not through the code under test. */
function expectedIdentity(spki: Uint8Array | Buffer): string {
  return "h1:" + createHash("sha256").update(spki).digest("base64url");
}

function assertRoundTrip(text: string, expected: string) {
  const key = parseApiKey(text);
  assert.equal(key.identity, expected);
  const creds = clientCredentials(key);
  assert.equal(identityOfCertificate(creds.cert), expected);
  const x509 = new X509Certificate(creds.cert);
  assert.equal(expectedIdentity(x509.publicKey.export({ type: "spki", format: "der" })), expected);
  assert.match(x509.subject, new RegExp(`CN=${expected}`));
  // The PEM private key loads back to the same identity.
  const reloaded = createPublicKey(createPrivateKey(creds.key));
  assert.equal(expectedIdentity(reloaded.export({ type: "spki", format: "der" })), expected);
}

test("k1 example key: identity agrees with openssl", () => {
  const seed = Buffer.from(EXAMPLE.slice(3), "base64url");
  // PKCS#8 for Ed25519 (RFC 8410), built by hand so openssl can derive the public key.
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const spki = openssl(["pkey", "-inform", "der", "-pubout", "-outform", "der"], pkcs8);
  assertRoundTrip(EXAMPLE, expectedIdentity(spki));
});

test("k1 seed gives the right public key (RFC 8032 test 1)", () => {
  const seed = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
  const pub = Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex");
  const key = parseApiKey(apiKeyFromSeed(seed));
  const signature = sign(null, new Uint8Array(0), key.privateKey);
  assert.equal(
    signature.toString("hex"),
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  const independent = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: pub.toString("base64url") }, format: "jwk" });
  const message = Buffer.from("a message");
  assert.ok(verify(null, message, independent, sign(null, message, key.privateKey)));
  assert.equal(key.identity, expectedIdentity(independent.export({ type: "spki", format: "der" })));
});

test("fresh k1 keys round trip", () => {
  const text = newApiKey();
  assert.match(text, /^k1:[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newApiKey(), text);
  const seed = Buffer.from(text.slice(3), "base64url");
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const pub = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }));
  assertRoundTrip(text, expectedIdentity(pub.export({ type: "spki", format: "der" })));
});

for (const [curve, bytes, hash] of [["prime256v1", 32, "sha256"], ["secp384r1", 48, "sha384"], ["secp521r1", 66, "sha512"]] as const) {
  test(`k2 ${curve} round trip`, () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
    const d = (privateKey.export({ format: "jwk" }) as { d: string }).d;
    assert.equal(Buffer.from(d, "base64url").length, bytes);
    const text = "k2:" + d;
    assertRoundTrip(text, expectedIdentity(publicKey.export({ type: "spki", format: "der" })));
    const key = parseApiKey(text);
    const message = Buffer.from("a message");
    // Deno only signs with the curve's own hash.
    assert.ok(verify(hash, message, publicKey, sign(hash, message, key.privateKey)));
  });

  test(`k2 ${curve} scalar range comes from the curve order`, () => {
    const n = curveOrder(curve);
    const scalar = (v: bigint) => "k2:" + Buffer.from(v.toString(16).padStart(bytes * 2, "0"), "hex").toString("base64url");
    assert.ok(parseApiKey(scalar(n - 1n)).identity.startsWith("h1:"));
    assert.ok(parseApiKey(scalar(1n)).identity.startsWith("h1:"));
    assert.throws(() => parseApiKey(scalar(n)), InvalidApiKeyError);
    assert.throws(() => parseApiKey(scalar(0n)), InvalidApiKeyError);
    assert.throws(() => parseApiKey("k2:" + Buffer.alloc(bytes, 0xff).toString("base64url")), InvalidApiKeyError);
  });
}

test("bad keys throw InvalidApiKeyError without echoing the input", () => {
  const b64 = (n: number, fill = 7) => Buffer.alloc(n, fill).toString("base64url");
  const valid = EXAMPLE.slice(3);
  assert.ok(valid.includes("_"));
  const bad = [
    "",
    "k3:" + valid,
    "K1:" + valid,
    "k1" + valid,
    "h1:" + valid,
    "k1:" + valid.slice(0, 20) + "!" + valid.slice(21),
    "k1:" + valid + "=",
    "k1:" + valid.slice(0, 42) + "F", // non-zero trailing bits: not canonical base64url
    "k1:" + valid.replace(/_/g, "/"), // standard base64, not base64url
    "k1:" + b64(31),
    "k1:" + b64(33),
    "k1:",
    "k2:" + b64(40),
    "k2:" + b64(32, 0),
    "k2:" + b64(66, 0),
    "k2:" + b64(31),
  ];
  for (const text of bad) {
    assert.throws(
      () => parseApiKey(text),
      (err: unknown) => {
        assert.ok(err instanceof InvalidApiKeyError, `expected InvalidApiKeyError for case ${bad.indexOf(text)}`);
        assert.match(err.message, /^invalid API key: /);
        const body = text.slice(3);
        if (body.length > 0) assert.ok(!err.message.includes(body), "message echoes the key");
        return true;
      },
    );
  }
  assert.throws(() => parseApiKey("k1:" + b64(31)), /wrong length/);
  assert.throws(() => parseApiKey("x"), /expected k1:… or k2:…/);
});

test("surrounding whitespace is tolerated", () => {
  assert.equal(parseApiKey(` ${EXAMPLE}\n`).identity, parseApiKey(EXAMPLE).identity);
});

test("apiKeyFromSeed needs 32 bytes", () => {
  const seed = new Uint8Array(32).fill(9);
  assert.equal(apiKeyFromSeed(seed), "k1:" + Buffer.from(seed).toString("base64url"));
  assert.throws(() => apiKeyFromSeed(new Uint8Array(31)), RangeError);
});

test("a parsed key shows no key text when logged or serialized", () => {
  const key = parseApiKey(EXAMPLE);
  const secret = EXAMPLE.slice(3);
  const seedHex = Buffer.from(secret, "base64url").toString("hex");
  for (const shown of [inspect(key, { depth: 10, showHidden: true }), JSON.stringify(key), String(key)]) {
    assert.ok(!shown.includes(secret));
    assert.ok(!shown.includes(seedHex));
  }
  assert.deepEqual(Object.keys(key).sort(), ["identity", "privateKey"]);
});

test("client credentials are cached per key object", () => {
  const key = parseApiKey(newApiKey());
  assert.equal(clientCredentials(key), clientCredentials(key));
  assert.notEqual(clientCredentials(parseApiKey(EXAMPLE)).cert, clientCredentials(parseApiKey(EXAMPLE)).cert);
});
