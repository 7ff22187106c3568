import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { apiKeyFromSeed, InvalidApiKeyError, kesApiKeyFromSeed, parseApiKey } from "./apikey.ts";

test("kes:v1: keys parse to the same Ed25519 key and identity as the k1: key of the seed", () => {
  const seed = new Uint8Array(randomBytes(32));
  const kes = kesApiKeyFromSeed(seed);
  assert.match(kes, /^kes:v1:A[A-Za-z0-9+/]{43}$/);
  const a = parseApiKey(kes), b = parseApiKey(apiKeyFromSeed(seed));
  assert.equal(a.identity, b.identity);
  // The KES identity is the lowercase hex of the same SHA-256 over the SPKI.
  const spki = createPublicKey(a.privateKey).export({ type: "spki", format: "der" });
  const hex = createHash("sha256").update(spki).digest("hex");
  assert.equal(Buffer.from(a.identity.slice(3), "base64url").toString("hex"), hex);
});

test("malformed kes:v1: keys are rejected without echoing them", () => {
  const body = Buffer.concat([Buffer.from([0]), randomBytes(32)]).toString("base64");
  for (const bad of [
    "kes:v1:",
    "kes:v1:" + body.slice(0, -4),
    "kes:v1:" + Buffer.concat([Buffer.from([1]), randomBytes(32)]).toString("base64"),
    "kes:v1:" + body.replace(/[+/]/g, "-").replace(/^(.)/, "!"),
    "kes:v2:" + body,
  ]) {
    assert.throws(() => parseApiKey(bad), (e: Error) => e instanceof InvalidApiKeyError && !e.message.includes(body.slice(4, 20)), bad);
  }
});
