import { test } from "node:test";
import assert from "node:assert/strict";
import { awsSigner } from "../../tests/support/aws-signer.ts";
import { checkSigV4, isFailure, parseSigV4, type SigV4Request } from "./sigv4.ts";

// The AWS SDK's own signer (what @aws-sdk/client-kms signs with) makes the
// requests: the verifier is checked against a signer we did not write.
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const signer = (secretAccessKey = SECRET) => awsSigner("AKIDEXAMPLE", secretAccessKey, "tenant-1");
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

async function signed(opts: { body?: string; at?: number; secret?: string; extra?: Record<string, string> } = {}) {
  const body = opts.body ?? '{"KeyId":"alias/app"}';
  const req = await signer(opts.secret).sign({
    method: "POST", protocol: "https:", hostname: "127.0.0.1", port: 7373, path: "/", query: {},
    headers: { host: "127.0.0.1:7373", "content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.Encrypt", "x-amz-user-agent": "aws-sdk-js  test", ...opts.extra },
    body,
  }, { signingDate: new Date(opts.at ?? NOW) });
  return { headers: new Headers(req.headers as Record<string, string>), body };
}

const request = (headers: Headers, body: string): SigV4Request => ({ method: "POST", path: "/", query: "", headers, body: new TextEncoder().encode(body) });

async function verify(opts: Parameters<typeof signed>[0] & { tamper?: (h: Headers) => void; sentBody?: string; now?: number; checkWith?: string } = {}) {
  const { headers, body } = await signed(opts);
  opts.tamper?.(headers);
  const auth = parseSigV4(headers);
  if (isFailure(auth)) return auth;
  return checkSigV4(auth, request(headers, opts.sentBody ?? body), opts.checkWith ?? SECRET, opts.now ?? NOW) ?? "ok";
}

test("a request signed by the AWS SDK's signer verifies; the parsed scope names key, date and region", async () => {
  assert.equal(await verify(), "ok");
  const { headers } = await signed();
  const auth = parseSigV4(headers);
  assert.ok(!isFailure(auth));
  assert.deepEqual([auth.accessKeyId, auth.date, auth.region, auth.service], ["AKIDEXAMPLE", "20261203", "tenant-1", "kms"]);
  assert.ok(auth.signedHeaders.includes("x-amz-user-agent"), "the client's own list of signed headers is used");
});

test("the wrong secret, a changed body or a changed signed header is InvalidSignatureException", async () => {
  assert.equal((await verify({ checkWith: "another secret" }) as { error: string }).error, "InvalidSignatureException");
  assert.equal((await verify({ sentBody: '{"KeyId":"alias/other"}' }) as { error: string }).error, "InvalidSignatureException");
  assert.equal((await verify({ tamper: (h) => h.set("x-amz-target", "TrentService.Decrypt") }) as { error: string }).error, "InvalidSignatureException");
  // Values are compared after trimming and collapsing runs of spaces, as signed.
  assert.equal(await verify({ tamper: (h) => h.set("x-amz-user-agent", "  aws-sdk-js test ") }), "ok");
});

test("outside the ±5 minute window the signature has expired, on either side", async () => {
  assert.equal(await verify({ now: NOW + 4 * 60_000 }), "ok");
  const late = await verify({ now: NOW + 6 * 60_000 }) as { error: string; message: string };
  assert.equal(late.error, "InvalidSignatureException");
  assert.match(late.message, /^Signature expired: 20261203T120000Z is now earlier than/);
  assert.match((await verify({ now: NOW - 6 * 60_000 }) as { message: string }).message, /is now later than/);
});

test("a body hash header that does not match the body is refused", async () => {
  const r = await verify({ extra: { "x-amz-content-sha256": "0".repeat(64) } }) as { error: string; message: string };
  assert.equal(r.error, "InvalidSignatureException");
  assert.match(r.message, /x-amz-content-sha256/);
});

test("missing or malformed authorization is refused with AWS's error names", async () => {
  const h = (auth: string | undefined, date = "20261203T120000Z") => new Headers({ ...(auth ? { authorization: auth } : {}), "x-amz-date": date });
  assert.equal((parseSigV4(h(undefined)) as { error: string }).error, "MissingAuthenticationTokenException");
  const good = "AWS4-HMAC-SHA256 Credential=AKID/20261203/r/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "a".repeat(64);
  assert.ok(!isFailure(parseSigV4(h(good))));
  for (const bad of [
    good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
    good.replace("host;", ""),
    good.replace("/aws4_request", "/aws5_request"),
    good.replace("Signature=" + "a".repeat(64), "Signature=zz"),
    "AWS4-HMAC-SHA256 Credential=AKID/20261203/r/kms/aws4_request",
  ]) {
    assert.equal((parseSigV4(h(bad)) as { error: string }).error, "IncompleteSignatureException", bad);
  }
  assert.equal((parseSigV4(h(good, "yesterday")) as { error: string }).error, "IncompleteSignatureException");
  // A signed header the request does not carry.
  const { headers, body } = await signed();
  headers.delete("x-amz-target");
  const auth = parseSigV4(headers);
  assert.ok(!isFailure(auth));
  assert.equal(checkSigV4(auth, request(headers, body), SECRET, NOW)?.error, "IncompleteSignatureException");
});
