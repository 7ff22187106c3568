/**
 * The AWS KMS API in process, on the wire level the SDKs rely on: headers,
 * error shapes, bad input (which changes nothing), authentication corners
 * and pagination. Requests are signed with the AWS SDK's own signer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { awsSigner } from "../../../tests/support/aws-signer.ts";
import { ADMIN, type TestKms, withKms } from "../../../tests/support/app.ts";

interface Creds {
  readonly id: string;
  readonly secret: string;
  readonly region: string;
}

const USER = "h1:" + "u".repeat(43);

/** An enclave with an Admin identity and its access key (made by ACCESSKEY:CREATE through the native API). */
async function setup(kms: TestKms, enclave = "tenant-1", identity = USER): Promise<Creds> {
  await kms.node.write({ type: "enclave.create", name: enclave, at: 1, by: ADMIN }).catch(() => {});
  await kms.node.write({ type: "identity.create", enclave, identity, privilege: "Admin", policy: "", serviceAccount: false, tags: {}, at: 1, by: ADMIN });
  return accessKey(kms, enclave, identity);
}

/** ACCESSKEY:CREATE (1501) for `identity`, as the admin. */
async function accessKey(kms: TestKms, enclave: string, identity: string): Promise<Creds> {
  const reply = await kms.call(enclave, 1501, { identity });
  return { id: reply.access_key_id as string, secret: reply.secret_access_key as string, region: enclave };
}

/** A signed AWS request to the app; `tweak` may change the signed request before it is sent. */
async function aws(kms: TestKms, creds: Creds, target: string, body: unknown, opts: { at?: Date; raw?: string; tweak?: (h: Record<string, string>) => void; unsigned?: string[] } = {}) {
  const text = opts.raw ?? JSON.stringify(body);
  const signer = awsSigner(creds.id, creds.secret, creds.region);
  const signed = await signer.sign({
    method: "POST", protocol: "https:", hostname: "kms.test", path: "/", query: {},
    headers: { host: "kms.test", "content-type": "application/x-amz-json-1.1", "x-amz-target": `TrentService.${target}` },
    body: text,
  }, { signingDate: opts.at ?? new Date(), unsignableHeaders: new Set(opts.unsigned ?? []) });
  const headers = { ...signed.headers } as Record<string, string>;
  opts.tweak?.(headers);
  const res = await kms.app.request("https://kms.test/", { method: "POST", headers, body: text }, { identity: undefined });
  const raw = await res.text();
  return { res, raw, json: raw ? JSON.parse(raw) : undefined };
}

test("replies carry AWS's content type, an exact length, a request id and an accurate Date; timestamps are epoch seconds", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const { res, raw, json } = await aws(kms, creds, "CreateKey", { Description: "d" });
    assert.equal(res.status, 200, raw);
    assert.equal(res.headers.get("content-type"), "application/x-amz-json-1.1");
    assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(raw)));
    assert.match(res.headers.get("x-amzn-requestid") ?? "", /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Date.parse(res.headers.get("date")!) - Date.now()) < 5_000);
    assert.equal(typeof json.KeyMetadata.CreationDate, "number");
    assert.ok(Math.abs(json.KeyMetadata.CreationDate - Date.now() / 1000) < 60);
    assert.match(json.KeyMetadata.Arn, /^arn:aws:kms:tenant-1:\d{12}:key\/[0-9a-f-]{36}$/);
  });
});

test("errors are {__type, message} with AWS's status, mirrored in X-Amzn-ErrorType", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const id = (await aws(kms, creds, "CreateKey", {})).json.KeyMetadata.KeyId;
    await aws(kms, creds, "DisableKey", { KeyId: id });
    const cases: Array<[string, unknown, string, number]> = [
      ["DescribeKey", { KeyId: "00000000-0000-4000-8000-000000000000" }, "NotFoundException", 404],
      ["Encrypt", { KeyId: id, Plaintext: "aGk=" }, "DisabledException", 409],
      ["DescribeKey", {}, "ValidationException", 400],
      ["Encrypt", { KeyId: id, Plaintext: "not base64!" }, "ValidationException", 400],
      ["Decrypt", { CiphertextBlob: "AAAA" }, "InvalidCiphertextException", 400],
      ["ListKeys", { Marker: "bm90IG91cnM" }, "InvalidMarkerException", 400],
      ["Sign", { KeyId: id }, "UnsupportedOperationException", 400],
    ];
    for (const [target, body, type, status] of cases) {
      const { res, json } = await aws(kms, creds, target, body);
      assert.deepEqual([res.status, json.__type, res.headers.get("x-amzn-errortype")], [status, type, type], `${target} ${JSON.stringify(body)}`);
      assert.deepEqual(Object.keys(json).sort(), ["__type", "message"]);
    }
    assert.match((await aws(kms, creds, "Sign", { KeyId: id })).json.message, /^Sign is not supported/);
    assert.match((await aws(kms, creds, "DescribeKey", {})).json.message, /KeyId/);
  });
});

test("requests that are not AWS's, or malformed, are refused with AWS's names and change nothing", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const before = await kms.snapshot();
    assert.equal((await kms.app.request("/", { method: "POST", body: "{}" }, { identity: undefined })).status, 404, "no X-Amz-Target: not the AWS API");
    assert.equal((await aws(kms, creds, "NoSuchOperation", {})).json.__type, "UnknownOperationException");
    assert.equal((await aws(kms, creds, "ListKeys", {}, { tweak: (h) => (h["x-amz-target"] = "Other.ListKeys") })).json.__type, "InvalidSignatureException");
    assert.equal((await aws(kms, creds, "ListKeys", undefined, { raw: "{not json" })).json.__type, "SerializationException");
    assert.equal((await aws(kms, creds, "ListKeys", undefined, { raw: "[1]" })).json.__type, "SerializationException");
    const big = await aws(kms, creds, "CreateKey", { Description: "x".repeat(300_000) });
    assert.deepEqual([big.res.status, big.json.__type], [400, "ValidationException"]);
    for (const [target, body, type] of [
      ["CreateKey", { KeySpec: "RSA_2048" }, "UnsupportedOperationException"],
      ["CreateKey", { KeyUsage: "GENERATE_VERIFY_MAC" }, "ValidationException"],
      ["CreateKey", { Tags: [{ TagKey: "aws:reserved", TagValue: "x" }] }, "TagException"],
      ["CreateKey", { MultiRegion: true }, "UnsupportedOperationException"],
      ["CreateAlias", { AliasName: "alias/aws/mine", TargetKeyId: "x" }, "ValidationException"],
      ["ListKeys", { Limit: 0 }, "ValidationException"],
    ] as const) {
      assert.equal((await aws(kms, creds, target, body)).json.__type, type, `${target} ${JSON.stringify(body)}`);
    }
    const unsigned = await kms.app.request("https://kms.test/", { method: "POST", headers: { host: "kms.test", "x-amz-target": "TrentService.ListKeys" }, body: "{}" }, { identity: undefined });
    assert.equal((await unsigned.json() as { __type: string }).__type, "MissingAuthenticationTokenException");
    assert.deepEqual(await kms.snapshot(), before);
  });
});

test("an access key works in its enclave's region only (a SysAdmin's in every region); removed with it, or with its identity, it is unknown", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    await kms.node.write({ type: "enclave.create", name: "tenant-2", at: 1, by: ADMIN });
    const other = await aws(kms, { ...creds, region: "tenant-2" }, "ListKeys", {});
    assert.equal(other.json.__type, "InvalidSignatureException");
    assert.match(other.json.message, /works in region 'tenant-1'/);
    const sys = "h1:" + "s".repeat(43);
    const sysCreds = await setup(kms, "ops", sys);
    await kms.node.write({ type: "identity.delete", enclave: "ops", identity: sys });
    assert.equal((await aws(kms, sysCreds, "ListKeys", {})).json.__type, "UnrecognizedClientException", "gone with its identity");
    // A SysAdmin's key names any enclave by its region.
    await kms.node.write({ type: "identity.create", enclave: "ops", identity: sys, privilege: "SysAdmin", policy: "", serviceAccount: false, tags: {}, at: 1, by: ADMIN });
    const admin = { ...await accessKey(kms, "ops", sys), region: "tenant-2" };
    assert.equal((await aws(kms, admin, "ListKeys", {})).res.status, 200);
    await kms.node.write({ type: "access-key.delete", enclave: "tenant-1", id: creds.id });
    assert.equal((await aws(kms, creds, "ListKeys", {})).json.__type, "UnrecognizedClientException");
  });
});

test("the operation is part of what is signed: a request that leaves X-Amz-Target unsigned is refused, and so is its replay as another operation", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const id = (await aws(kms, creds, "CreateKey", {})).json.KeyMetadata.KeyId;
    const before = await kms.snapshot();
    const enable = await aws(kms, creds, "EnableKey", { KeyId: id }, { unsigned: ["x-amz-target"] });
    assert.deepEqual([enable.res.status, enable.json.__type], [400, "IncompleteSignatureException"]);
    const replayed = await aws(kms, creds, "EnableKey", { KeyId: id }, { unsigned: ["x-amz-target"], tweak: (h) => (h["x-amz-target"] = "TrentService.ScheduleKeyDeletion") });
    assert.deepEqual([replayed.res.status, replayed.json.__type], [400, "IncompleteSignatureException"]);
    assert.deepEqual(await kms.snapshot(), before);
    assert.equal((await aws(kms, creds, "DescribeKey", { KeyId: id })).json.KeyMetadata.KeyState, "Enabled");
  });
});

test("the secret access key is stored sealed, never in the clear", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const records = await kms.store.load();
    const all = Buffer.concat([...records].map(([k, v]) => Buffer.concat([Buffer.from(k), Buffer.from(v)])));
    assert.ok(all.includes(Buffer.from(creds.id)), "the access key is stored");
    assert.ok(!all.includes(Buffer.from(creds.secret)), "its secret is not, in the clear");
    assert.equal((await aws(kms, creds, "ListKeys", {})).res.status, 200);
  });
});

test("ListKeys pages with Limit and Marker; the last page has no NextMarker", async () => {
  await withKms(async (kms) => {
    const creds = await setup(kms);
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await aws(kms, creds, "CreateKey", {})).json.KeyMetadata.KeyId);
    const seen: string[] = [];
    let marker: string | undefined;
    const flags: boolean[] = [];
    do {
      const { json } = await aws(kms, creds, "ListKeys", { Limit: 2, ...(marker ? { Marker: marker } : {}) });
      seen.push(...json.Keys.map((k: { KeyId: string }) => k.KeyId));
      flags.push(json.Truncated);
      assert.equal("NextMarker" in json, json.Truncated);
      marker = json.NextMarker;
    } while (marker);
    assert.deepEqual(flags, [true, true, false]);
    assert.deepEqual(seen, [...made].sort());
  });
});
