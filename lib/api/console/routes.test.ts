import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { type ApiKey, newApiKey, parseApiKey } from "../../identity/apikey.ts";
import { spkiOf } from "../../identity/identity.ts";
import type { Hono } from "hono";
import type { Env } from "../../net/env.ts";
import { frame, withKms, type TestKms } from "../../../tests/support/app.ts";
import { loginMessage } from "./protocol.ts";
import { consoleRoutes } from "./routes.ts";
import { ConsoleSessions } from "./sessions.ts";

const ORIGIN = "https://kms.test";
const DENIED = "access denied: insufficient permissions";
const stamp = { at: 1, by: "h1:admin" };

type App = Pick<Hono<Env>, "request">;

/** A JSON POST from the console's own page. */
function post(app: App, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(app.request(`${ORIGIN}/console/api${path}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", origin: ORIGIN, "sec-fetch-site": "same-origin", ...headers },
  }, { identity: undefined }));
}

/** Signs a challenge as the console's page does (Web Crypto's forms: raw Ed25519, ECDSA r ‖ s). */
function signChallenge(key: KeyObject, challenge: string): Buffer {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const hash = key.asymmetricKeyType === "ed25519" ? null : ({ secp384r1: "sha384", secp521r1: "sha512" } as Record<string, string>)[curve!] ?? "sha256";
  return sign(hash, loginMessage(challenge), { key, dsaEncoding: "ieee-p1363" });
}

interface Login {
  readonly res: Response;
  readonly cookie: string;
  readonly csrf: string;
}

/** Logs in with `key` (optionally presenting another public key or signature). */
async function login(app: App, key: ApiKey, tamper: { spki?: Uint8Array; signature?: (s: Buffer) => Buffer } = {}): Promise<Login> {
  const { challenge } = await (await post(app, "/challenge", {})).json() as { challenge: string };
  let signature = signChallenge(key.privateKey, challenge);
  if (tamper.signature) signature = tamper.signature(signature);
  const res = await post(app, "/login", {
    challenge, public_key: Buffer.from(tamper.spki ?? spkiOf(key.privateKey)).toString("base64"), signature: signature.toString("base64"),
  });
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  const csrf = res.status === 200 ? (await res.clone().json() as { csrf: string }).csrf : "";
  return { res, cookie, csrf };
}

/** A console command call with the session's cookie and CSRF token. */
function call(app: App, s: Login, command: string, enclave: string, request: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return post(app, "/call", { command, enclave, request }, { cookie: s.cookie, "x-kms-csrf": s.csrf, ...headers });
}

async function expectError(res: Response, status: number, message: string | RegExp): Promise<void> {
  const body = await res.json() as { message: string };
  assert.equal(res.status, status, body.message);
  if (typeof message === "string") assert.equal(body.message, message);
  else assert.match(body.message, message);
}

/** An enclave e1 with keys minio-key and other-key, a policy allowing KEY:GENERATE/STATUS/LIST on minio-*, and a User holding it. */
async function setup(kms: TestKms): Promise<{ user: ApiKey; sysadmin: ApiKey }> {
  const user = parseApiKey(newApiKey()), sysadmin = parseApiKey(newApiKey());
  const node = kms.node;
  await node.write({ type: "enclave.create", name: "e1", ...stamp });
  for (const name of ["minio-key", "other-key"]) {
    await node.write({ type: "key.create", enclave: "e1", name, keyType: "AES256", material: Buffer.alloc(32, 7).toString("base64"), addVersion: false, ...stamp });
  }
  const allow = { "KEY:GENERATE": ["minio-*"], "KEY:STATUS": ["minio-*"], "KEY:LIST": ["minio-*"] };
  await node.write({ type: "policy.create", enclave: "e1", name: "minio", allow, deny: {}, ...stamp });
  await node.write({ type: "identity.create", enclave: "e1", identity: user.identity, privilege: "User", policy: "minio", serviceAccount: false, tags: {}, ...stamp });
  await node.write({ type: "identity.create", enclave: "e1", identity: sysadmin.identity, privilege: "SysAdmin", policy: "", serviceAccount: false, tags: {}, ...stamp });
  return { user, sysadmin };
}

test("console login: Ed25519 and ECDSA P-256/384/521 keys sign a challenge; the session cookie is HttpOnly, Secure, SameSite=Strict", async () => {
  await withKms(async (kms) => {
    const { user } = await setup(kms);
    const keys = [user];
    for (const namedCurve of ["P-256", "P-384", "P-521"]) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve });
      const scalar = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
      const key = parseApiKey("k2:" + scalar.toString("base64url"));
      await kms.node.write({ type: "identity.create", enclave: "e1", identity: key.identity, privilege: "Admin", policy: "", serviceAccount: false, tags: {}, ...stamp });
      keys.push(key);
    }
    for (const key of keys) {
      const s = await login(kms.app, key);
      const body = await s.res.json() as Record<string, unknown>;
      assert.equal(s.res.status, 200, JSON.stringify(body));
      assert.equal(body.identity, key.identity);
      assert.deepEqual(body.enclaves, [{ name: "e1", privilege: key === user ? "User" : "Admin" }]);
      const attrs = (s.res.headers.get("set-cookie") ?? "").split("; ");
      assert.match(attrs[0], /^__Host-kms-console=[A-Za-z0-9_-]{43}$/);
      for (const a of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"]) assert.ok(attrs.includes(a), a);
      const session = await kms.app.request(`${ORIGIN}/console/api/session`, { headers: { cookie: s.cookie } }, { identity: undefined });
      assert.equal(session.status, 200);
      assert.equal((await session.json() as { identity: string }).identity, key.identity);
    }
  });
});

test("console login refuses: a reused or unknown challenge, a wrong signature, another key's signature, a non-API key, an unknown identity", async () => {
  await withKms(async (kms) => {
    const { user } = await setup(kms);
    const other = parseApiKey(newApiKey());
    // Reuse: the same challenge twice.
    const { challenge } = await (await post(kms.app, "/challenge", {})).json() as { challenge: string };
    const body = { challenge, public_key: Buffer.from(spkiOf(user.privateKey)).toString("base64"), signature: signChallenge(user.privateKey, challenge).toString("base64") };
    assert.equal((await post(kms.app, "/login", body)).status, 200);
    await expectError(await post(kms.app, "/login", body), 401, "login failed: the challenge expired or was already used; try again");
    await expectError(await post(kms.app, "/login", { ...body, challenge: "made-up" }), 401, /challenge expired or was already used/);
    // A flipped bit, and a signature by another key over the user's public key.
    const flipped = await login(kms.app, user, { signature: (s) => (s[5] ^= 1, s) });
    await expectError(flipped.res, 401, "login failed: the signature does not verify");
    await expectError((await login(kms.app, other, { spki: spkiOf(user.privateKey) })).res, 401, "login failed: the signature does not verify");
    // A public key of a kind API keys never are (X25519), whatever comes with it.
    const x25519 = spkiOf(generateKeyPairSync("x25519").publicKey);
    await expectError((await login(kms.app, user, { spki: x25519 })).res, 401, "login failed: the signature does not verify");
    await expectError((await login(kms.app, user, { spki: new Uint8Array(44) })).res, 401, "login failed: the signature does not verify");
    // Oversized fields are refused before any work.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expectError((await login(kms.app, { identity: "", privateKey: rsa.privateKey } as ApiKey)).res, 400, "invalid request: signature: too long");
    // A valid signature by a key the cluster does not know: denied as the protocol denies, no cookie.
    const stranger = await login(kms.app, other);
    assert.equal(stranger.res.headers.get("set-cookie"), null);
    await expectError(stranger.res, 403, DENIED);
  });
});

test("console calls run the native commands with the native authorisation: a User sees only minio-* and gets the protocol's denial", async () => {
  await withKms(async (kms) => {
    const { user } = await setup(kms);
    const s = await login(kms.app, user);
    const list = await call(kms.app, s, "KEY:LIST", "e1", { prefix: "", continue_at: "" });
    assert.equal(list.status, 200);
    assert.deepEqual(((await list.json() as { reply: { keys: Array<{ name: string }> } }).reply.keys).map((k) => k.name), ["minio-key"]);
    const gen = await call(kms.app, s, "KEY:GENERATE", "e1", { name: "minio-key", length: 16 });
    const reply = (await gen.json() as { reply: { version: number; plaintext: string; ciphertext: string } }).reply;
    assert.equal(reply.version, 1);
    assert.equal(Buffer.from(reply.plaintext, "base64").length, 16);
    // The denial is the native protocol's, byte for byte.
    const native = await kms.send("e1", [frame(207, { name: "other-key" })], { identity: user.identity, accept: "application/json" });
    const nativeBody = await native.json() as { message: string };
    await expectError(await call(kms.app, s, "KEY:GENERATE", "e1", { name: "other-key" }), native.status, nativeBody.message);
    assert.equal(nativeBody.message, DENIED);
    // The console's KEY:VERSIONS view is KEY:STATUS to a policy.
    const versions = await call(kms.app, s, "KEY:VERSIONS", "e1", { name: "minio-key" });
    assert.deepEqual((await versions.json() as { reply: { versions: Array<{ version: number }> } }).reply.versions.map((v) => v.version), [1]);
    await expectError(await call(kms.app, s, "KEY:VERSIONS", "e1", { name: "other-key" }), 403, DENIED);
    // Cluster and enclave commands are SysAdmin-only, here as everywhere.
    await expectError(await call(kms.app, s, "CLUSTER:STATUS", ""), 403, DENIED);
    await expectError(await call(kms.app, s, "ENCLAVE:CREATE", "", { name: "e2" }), 403, DENIED);
    assert.equal(kms.node.state.enclaves.has("e2"), false);
  });
});

test("console calls: bad input is a 400 naming the problem and changes nothing", async () => {
  await withKms(async (kms) => {
    const { sysadmin } = await setup(kms);
    const s = await login(kms.app, sysadmin);
    const before = await kms.snapshot();
    await expectError(await call(kms.app, s, "KEY:FROB", "e1"), 400, "invalid request: unknown command KEY:FROB");
    await expectError(await post(kms.app, "/call", { command: "key create" }, { cookie: s.cookie, "x-kms-csrf": s.csrf }), 400, "invalid request: command names look like KEY:STATUS");
    await expectError(await call(kms.app, s, "KEY:CREATE", "e1", { name: "bad name!" }), 400, /^invalid request: /);
    await expectError(await call(kms.app, s, "KEY:CREATE", "e1", { name: "k", type: "DES" }), 400, "invalid request: invalid key type: use AES256 or ChaCha20");
    await expectError(await call(kms.app, s, "KEY:IMPORT", "e1", { name: "k", key: Buffer.alloc(16).toString("base64") }), 400, "invalid request: invalid key: must be 32 bytes");
    await expectError(await call(kms.app, s, "KEY:CREATE", "e1", { name: { nested: true } }), 400, /^invalid request: /);
    await expectError(await post(kms.app, "/call", "not an object", { cookie: s.cookie, "x-kms-csrf": s.csrf }), 400, /^invalid request/);
    const raw = await kms.app.request(`${ORIGIN}/console/api/call`, {
      method: "POST", body: "{", headers: { "content-type": "application/json", origin: ORIGIN, cookie: s.cookie, "x-kms-csrf": s.csrf },
    }, { identity: undefined });
    await expectError(raw, 400, "invalid request: the body is not JSON");
    const huge = await call(kms.app, s, "KEY:ENCRYPT", "e1", { name: "minio-key", plaintext: "A".repeat(2 << 20) });
    await expectError(huge, 413, /^request body too large/);
    assert.deepEqual(await kms.snapshot(), before);
  });
});

test("console: state-changing calls need this origin, a JSON body and the session's CSRF token; refused ones change nothing", async () => {
  await withKms(async (kms) => {
    const { sysadmin } = await setup(kms);
    const s = await login(kms.app, sysadmin);
    const before = await kms.snapshot();
    const create = { command: "ENCLAVE:CREATE", enclave: "", request: { name: "e2" } };
    const refused = "cross-site request refused: use the console's own page";
    for (const headers of <Array<Record<string, string>>>[
      { "x-kms-csrf": "" },
      { "x-kms-csrf": s.csrf.slice(0, -1) + (s.csrf.endsWith("A") ? "B" : "A") },
      { origin: "https://evil.test" },
      { "sec-fetch-site": "cross-site" },
      { "content-type": "text/plain" },
    ]) {
      await expectError(await post(kms.app, "/call", create, { cookie: s.cookie, "x-kms-csrf": s.csrf, ...headers }), 403, refused);
    }
    await expectError(await post(kms.app, "/challenge", {}, { origin: "https://evil.test" }), 403, refused);
    assert.deepEqual(await kms.snapshot(), before);
    // No cookie, or a made-up one: not signed in.
    await expectError(await post(kms.app, "/call", create, { "x-kms-csrf": s.csrf }), 401, "not signed in: sign in with an API key");
    await expectError(await post(kms.app, "/call", create, { cookie: "__Host-kms-console=" + "A".repeat(43), "x-kms-csrf": s.csrf }), 401, "not signed in: sign in with an API key");
    // The right way works.
    assert.equal((await post(kms.app, "/call", create, { cookie: s.cookie, "x-kms-csrf": s.csrf })).status, 200);
    assert.equal(kms.node.state.enclaves.has("e2"), true);
  });
});

test("console sessions end: when unused too long, at their maximum age, on logout, and when the identity is deleted", async () => {
  await withKms(async (kms) => {
    const { user, sysadmin } = await setup(kms);
    let now = 1_000_000;
    const sessions = new ConsoleSessions({ idleMs: 60_000, maxMs: 300_000 }, () => now);
    const app = consoleRoutes({ node: kms.node, sessions, fetchAs: () => Promise.resolve(new Response(null, { status: 404 })) });
    const status = (s: Login) => app.request(`${ORIGIN}/console/api/session`, { headers: { cookie: s.cookie } }, { identity: undefined });

    const idle = await login(app, user);
    now += 59_000;
    assert.equal((await status(idle)).status, 200, "used within the idle time");
    now += 59_000;
    assert.equal((await status(idle)).status, 200, "each use keeps it alive");
    now += 60_000;
    await expectError(await status(idle), 401, "session expired: sign in again");
    await expectError(await status(idle), 401, "not signed in: sign in with an API key");

    const old = await login(app, user);
    for (let i = 0; i < 5; i++) {
      now += 59_000;
      assert.equal((await status(old)).status, 200);
    }
    now += 59_000;
    await expectError(await status(old), 401, "session expired: sign in again");

    const out = await login(app, user);
    assert.equal((await post(app, "/logout", {}, { cookie: out.cookie, "x-kms-csrf": out.csrf })).status, 200);
    await expectError(await status(out), 401, "not signed in: sign in with an API key");

    const doomed = await login(app, user);
    const admin = await login(app, sysadmin);
    assert.equal((await call(app, admin, "IDENTITY:DELETE", "e1", { identity: user.identity })).status, 200);
    await expectError(await status(doomed), 401, "session ended: this identity is no longer known to the cluster");
    assert.equal((await status(admin)).status, 200);
  });
});

test("console: the page's files come with the CSP; unknown paths are JSON 404s; a console turned off is not there", async () => {
  await withKms(async (kms) => {
    const page = await kms.app.request(`${ORIGIN}/console/`, {}, { identity: undefined });
    if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") {
      // No bundler in this runtime (Deno): the console says how to get it, and the API still works.
      await expectError(page, 501, "the console is not built into this server: use the compiled binary, or run the sources under Bun");
      assert.equal((await post(kms.app, "/challenge", {})).status, 200);
      return;
    }
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /^default-src 'none'; script-src 'self';/);
    assert.match(await page.text(), /<script type="module" src="\/console\/app\.js"><\/script>/);
    const js = await kms.app.request(`${ORIGIN}/console/app.js`, {}, { identity: undefined });
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    const etag = js.headers.get("etag")!;
    await js.arrayBuffer();
    assert.equal((await kms.app.request(`${ORIGIN}/console/app.js`, { headers: { "if-none-match": etag } }, { identity: undefined })).status, 304);
    const redirect = await kms.app.request(`${ORIGIN}/console`, {}, { identity: undefined });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get("location"), "/console/");
    for (const path of ["/console/nothing.js", "/console/../package.json", "/console/api/nothing", "/console/constructor.js"]) {
      const res = await kms.app.request(`${ORIGIN}${path}`, {}, { identity: undefined });
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { message: "not found" });
    }
  });
  const { createApp } = await import("../app.ts");
  await withKms(async (kms) => {
    const off = createApp({ node: kms.node, console: false });
    assert.equal((await off.request(`${ORIGIN}/console/`, {}, { identity: undefined })).status, 404);
    assert.equal((await post(off, "/challenge", {})).status, 404);
  });
});
