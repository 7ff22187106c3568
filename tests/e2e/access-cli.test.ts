/**
 * The access-control CLI end to end, through real `kms` processes against one
 * real server: identities (add/rm/ls/stat, --privilege, --policy), policies
 * (add from JSON and YAML with every RuleSet form, rm, assign, ls, stat, show),
 * `identity new --cert --key`, and clear errors for bad policy files.
 */
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import YAML from "yaml";
import { encodeFrames, parseFrames } from "../../lib/wire/frames.ts";
import { decode, encode } from "../../lib/wire/proto.ts";
import type { KmsClient } from "../../lib/client/client.ts";
import { KmsClientError } from "../../lib/client/client.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { DENIED_MESSAGE } from "../helpers/access-model.ts";
import { expectJson, expectOk } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

const E = "cli-tenant";
let server: KmsServer;
let admin: KmsClient;
let adminIdentity: string;
let env: Record<string, string>;
let work: string;

/** Runs `kms ARGS` against the server, as the HSM admin unless apiKey is given. */
function kms(args: string[], apiKey?: string): Promise<RunResult> {
  return runKms(args, { ...env, ...(apiKey ? { MINIO_KMS_API_KEY: apiKey } : {}) });
}
const ok = expectOk;
const json = expectJson;
function fails(r: RunResult, stderr: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what}: expected a failure; stdout: ${r.stdout}`);
  assert.match(r.stderr, stderr, `${what}: stderr`);
  assert.equal(r.stdout.trim(), "", `${what}: nothing on stdout`);
}
function file(name: string, text: string): string {
  const f = path.join(work, name);
  writeFileSync(f, text);
  return f;
}
/** h1: identity of a PEM certificate, computed here with node:crypto. */
function identityOfCert(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return `h1:${createHash("sha256").update(spki).digest("base64url")}`;
}
/** Rules with sorted patterns and commands. */
const norm = (r: Record<string, string[]>) => Object.fromEntries(Object.entries(r).map(([c, ps]) => [c, [...ps].sort()]).sort());
async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof KmsClientError) return err.status;
    throw err;
  }
}

before(async () => {
  server = await startServer();
  env = { ...server.env(), MINIO_KMS_ENCLAVE: "" };
  admin = server.client();
  adminIdentity = parseApiKey(server.apiKey).identity;
  work = tempDir("kms-access-cli-");
  await admin.createEnclave(E);
  for (const k of ["minio-1", "minio-2", "other"]) await admin.createKey(E, k);
});
after(cleanup);

describe("access-control CLI", () => {
  const RULES = {
    allow: { "KEY:GENERATE": ["minio-*"], "KEY:DECRYPT": ["minio-*", "shared"], "KEY:STATUS": ["minio-1", "minio-2"], "KEY:LIST": ["minio-*"] },
    deny: { "KEY:STATUS": ["minio-2"], "KEY:DELETE": ["*"] },
  };

  it("add-policy reads JSON and YAML, with a RuleSet as string, array or object; show-policy round-trips the rules", async () => {
    const jsonFile = file("p.json", JSON.stringify({
      allow: { "KEY:GENERATE": "minio-*", "KEY:DECRYPT": ["minio-*", "shared"], "KEY:STATUS": { "minio-1": {}, "minio-2": {} }, "KEY:LIST": ["minio-*"] },
      deny: { "KEY:STATUS": "minio-2", "KEY:DELETE": { "*": {} } },
    }, null, 2));
    const yamlFile = file("p.yml", [
      "# the same policy, in YAML",
      "allow:",
      "  KEY:GENERATE: minio-*",
      "  KEY:DECRYPT: [minio-*, shared]",
      "  KEY:STATUS:",
      "    minio-1: {}",
      "    minio-2: {}",
      "  KEY:LIST:",
      "    - minio-*",
      "deny:",
      "  KEY:STATUS: minio-2",
      "  KEY:DELETE: \"*\"",
      "",
    ].join("\n"));
    const [a, b] = await Promise.all([kms(["add-policy", "--enclave", E, "pj", jsonFile]), kms(["add-policy", "--enclave", E, "py", yamlFile])]);
    assert.match(ok(a, "add-policy JSON"), /pj/);
    assert.match(ok(b, "add-policy YAML"), /py/);
    const [sj, sy, human, stat, ls, lsJson, lsPrefix] = await Promise.all([
      kms(["show-policy", "--json", "--enclave", E, "pj"]),
      kms(["show-policy", "--json", "--enclave", E, "py"]),
      kms(["show-policy", "--enclave", E, "py"]),
      kms(["stat-policy", "--json", "--enclave", E, "pj"]),
      kms(["ls-policy", "--enclave", E]),
      kms(["ls-policy", "--json", "--enclave", E]),
      kms(["ls-policy", "--json", "--enclave", E, "py"]),
    ]);
    for (const [r, name] of [[sj, "pj"], [sy, "py"]] as const) {
      const p = json(r, `show-policy ${name}`);
      assert.equal(p.name, name);
      assert.deepEqual({ allow: norm(p.allow), deny: norm(p.deny) }, { allow: norm(RULES.allow), deny: norm(RULES.deny) }, `rules of ${name}`);
    }
    const shown = YAML.parse(ok(human, "show-policy (YAML)"));
    assert.deepEqual({ allow: norm(shown.allow), deny: norm(shown.deny) }, { allow: norm(RULES.allow), deny: norm(RULES.deny) }, "show-policy prints YAML");
    // What show-policy prints is itself a valid policy file: it round-trips through add-policy.
    const again = file("again.yml", ok(human, "show-policy"));
    ok(await kms(["add-policy", "--enclave", E, "p-again", again]), "add-policy of show-policy's output");
    const back = json(await kms(["show-policy", "--json", "--enclave", E, "p-again"]), "show-policy p-again");
    assert.deepEqual({ allow: norm(back.allow), deny: norm(back.deny) }, { allow: norm(RULES.allow), deny: norm(RULES.deny) });
    const st = json(stat, "stat-policy");
    assert.equal(st.name, "pj");
    assert.equal(st.created_by, adminIdentity);
    assert.ok(st.created_at, "created_at");
    assert.match(ok(ls, "ls-policy"), /^NAME\b.*\n(.*\n)*pj\b.*\n(.*\n)*py\b/m);
    assert.deepEqual(json(lsJson, "ls-policy --json").map((p: { name: string }) => p.name).sort(), ["pj", "py"]);
    assert.deepEqual(json(lsPrefix, "ls-policy PREFIX").map((p: { name: string }) => p.name), ["py"]);
  });

  it("identity new --cert --key writes a PEM certificate and key whose identity is the printed one, usable as a TLS client", async () => {
    const cert = path.join(work, "client.crt");
    const key = path.join(work, "client.key");
    const out = ok(await kms(["identity", "new", "--cert", cert, "--key", key]), "identity new");
    const apiKey = /API key\s+(k[12]:\S+)/.exec(out)?.[1];
    const identity = /Identity\s+(h1:\S+)/.exec(out)?.[1];
    assert.ok(apiKey && identity, `identity new prints an API key and its identity: ${out}`);
    assert.equal(parseApiKey(apiKey).identity, identity, "the printed identity is the API key's");
    const certPem = readFileSync(cert, "utf8");
    const keyPem = readFileSync(key, "utf8");
    assert.match(certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n?$/);
    assert.equal(statSync(key).mode & 0o777, 0o600, "the key file is private");
    assert.equal(identityOfCert(certPem), identity, "identity of the certificate file (node:crypto)");
    assert.match(ok(await kms(["identity", cert]), "kms identity CERT"), new RegExp(`^Identity\\s+${identity}$`, "m"), "identity of the certificate file (kms identity)");
    const pub = (k: ReturnType<typeof createPublicKey>) => k.export({ type: "spki", format: "der" }).toString("base64");
    assert.equal(pub(createPublicKey(createPrivateKey(keyPem))), pub(new X509Certificate(certPem).publicKey), "the key belongs to the certificate");

    // Like curl --cert/--key: an Admin of E authenticating with the files lists E's keys.
    ok(await kms(["add-identity", "--enclave", E, "--privilege", "Admin", identity]), "add-identity");
    const body = encodeFrames([{ id: 208, payload: encode("ListRequest", { prefix: "", continue_at: "", limit: 0 }) }]);
    const reply = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = https.request({
        host: "127.0.0.1", port: server.port, method: "POST", path: `/v1/kms/${E}`, ca: server.ca, cert: certPem, key: keyPem,
        headers: { "content-type": "application/octet-stream", accept: "application/octet-stream", "content-length": body.length },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(reply.status, 200, `KEY:LIST with the PEM files: ${reply.body.toString()}`);
    const keys = decode("ListKeysResponse", parseFrames(new Uint8Array(reply.body), 1)[0].payload).keys as Array<{ name: string }>;
    assert.deepEqual(keys.map((k) => k.name).sort(), ["minio-1", "minio-2", "other"]);

    const j = json(await kms(["identity", "new", "--json"]), "identity new --json");
    assert.equal(parseApiKey(j.api_key).identity, j.identity);
  });

  it("add-identity with --privilege and --policy, stat-identity, ls-identity, assign-policy, rm-policy, rm-identity", async () => {
    const userKey = newApiKey();
    const user = parseApiKey(userKey).identity;
    const adminI = parseApiKey(newApiKey()).identity;
    const sysI = parseApiKey(newApiKey()).identity;
    const plainI = parseApiKey(newApiKey()).identity;
    const added = await Promise.all([
      kms(["add-identity", "--enclave", E, "--privilege", "User", "--policy", "pj", user]),
      kms(["add-identity", "--enclave", E, "--privilege", "Admin", adminI]),
      kms(["add-identity", "--enclave", E, "--privilege", "SysAdmin", sysI]),
      kms(["add-identity", "--json", "--enclave", E, plainI]),
    ]);
    added.forEach((r, i) => ok(r, `add-identity #${i}`));
    assert.match(added[0].stdout, new RegExp(`Added identity ${user} to enclave ${E}`));
    assert.deepEqual(JSON.parse(added[3].stdout), { identity: plainI, enclave: E });
    const [su, sa, ss, sp, human, ls, lsHuman] = await Promise.all([
      kms(["stat-identity", "--json", "--enclave", E, user]),
      kms(["stat-identity", "--json", "--enclave", E, adminI]),
      kms(["stat-identity", "--json", "--enclave", E, sysI]),
      kms(["stat-identity", "--json", "--enclave", E, plainI]),
      kms(["stat-identity", "--enclave", E, user]),
      kms(["ls-identity", "--json", "--enclave", E]),
      kms(["ls-identity", "--enclave", E]),
    ]);
    const u = json(su, "stat-identity user");
    assert.deepEqual({ identity: u.identity, privilege: u.privilege, policy: u.policy, by: u.created_by }, { identity: user, privilege: 3, policy: "pj", by: adminIdentity });
    assert.ok(u.created_at, "created_at");
    assert.equal(json(sa, "stat-identity Admin").privilege, 2);
    assert.equal(json(ss, "stat-identity SysAdmin").privilege, 1);
    assert.deepEqual([json(sp, "stat-identity default").privilege, json(sp, "").policy], [3, ""], "the default privilege is User, no policy");
    assert.match(ok(human, "stat-identity"), /Privilege\s+User/);
    assert.match(human.stdout, /Policy\s+pj/);
    const listed = json(ls, "ls-identity").map((i: { identity: string }) => i.identity);
    for (const i of [user, adminI, sysI, plainI]) assert.ok(listed.includes(i), `ls-identity lists ${i}`);
    assert.match(ok(lsHuman, "ls-identity"), new RegExp(`${user}\\s+User\\s+pj`));

    // The User's policy works through the CLI with its own API key.
    const [g1, g2, g3, del, lsKeys] = await Promise.all([
      kms(["keygen", "--enclave", E, "minio-1"], userKey),
      kms(["keygen", "--enclave", E, "other"], userKey),
      kms(["stat-key", "--enclave", E, "minio-2"], userKey),
      kms(["rm-key", "--force", "--enclave", E, "minio-1"], userKey),
      kms(["ls-key", "--json", "--enclave", E], userKey),
    ]);
    assert.match(ok(g1, "keygen minio-1 as the User"), /Ciphertext/);
    fails(g2, new RegExp(`${DENIED_MESSAGE} \\(HTTP 403\\)`), "keygen other as the User");
    fails(g3, new RegExp(DENIED_MESSAGE), "stat-key minio-2 (denied by deny)");
    fails(del, new RegExp(DENIED_MESSAGE), "rm-key as the User");
    assert.deepEqual(json(lsKeys, "ls-key as the User").map((k: { name: string }) => k.name).sort(), ["minio-1", "minio-2"]);

    // assign-policy replaces the policy; rm-policy unassigns it; rm-identity revokes.
    const macOnly = file("mac.yml", "allow:\n  KEY:MAC: other\n");
    ok(await kms(["add-policy", "--enclave", E, "mac-only", macOnly]), "add-policy mac-only");
    assert.match(ok(await kms(["assign-policy", "--enclave", E, "mac-only", user]), "assign-policy"), new RegExp(`Assigned policy mac-only to ${user}`));
    assert.equal(json(await kms(["stat-identity", "--json", "--enclave", E, user]), "stat").policy, "mac-only");
    fails(await kms(["keygen", "--enclave", E, "minio-1"], userKey), new RegExp(DENIED_MESSAGE), "keygen after re-assignment");
    assert.match(ok(await kms(["mac", "--enclave", E, "other", "hello"], userKey), "mac after re-assignment"), /\S/);
    assert.match(ok(await kms(["rm-policy", "--force", "--enclave", E, "mac-only"]), "rm-policy"), /Deleted policy mac-only/);
    const [statGone, statUser, macGone] = await Promise.all([
      kms(["stat-policy", "--enclave", E, "mac-only"]),
      kms(["stat-identity", "--json", "--enclave", E, user]),
      kms(["mac", "--enclave", E, "other", "hello"], userKey),
    ]);
    fails(statGone, /policy does not exist \(HTTP 404\)/, "stat-policy of a deleted policy");
    assert.equal(json(statUser, "stat-identity").policy, "", "rm-policy unassigns");
    fails(macGone, new RegExp(DENIED_MESSAGE), "mac after rm-policy");
    assert.match(ok(await kms(["rm-identity", "--force", "--enclave", E, user]), "rm-identity"), new RegExp(`Removed identity ${user}`));
    const [statI, lsAfter, lsAsUser] = await Promise.all([
      kms(["stat-identity", "--enclave", E, user]),
      kms(["ls-identity", "--json", "--enclave", E]),
      kms(["ls-key", "--enclave", E], userKey),
    ]);
    fails(statI, /identity does not exist \(HTTP 404\)/, "stat-identity of a removed identity");
    assert.ok(!json(lsAfter, "ls-identity").some((i: { identity: string }) => i.identity === user), "ls-identity no longer lists it");
    fails(lsAsUser, new RegExp(DENIED_MESSAGE), "the removed identity's API key");
    fails(await kms(["rm-identity", "--force", "--enclave", E, user]), /identity does not exist/, "rm-identity twice");
    fails(await kms(["rm-policy", "--force", "--enclave", E, "mac-only"]), /policy does not exist/, "rm-policy twice");
  });

  it("usage errors and denials: bad --privilege, an Admin adding a SysAdmin, a User managing policies", async () => {
    const adminKey = newApiKey();
    await admin.createIdentity(E, parseApiKey(adminKey).identity, "Admin");
    const target = parseApiKey(newApiKey()).identity;
    const [bogus, sys, adm, pol] = await Promise.all([
      kms(["add-identity", "--enclave", E, "--privilege", "Root", target]),
      kms(["add-identity", "--enclave", E, "--privilege", "SysAdmin", target], adminKey),
      kms(["add-identity", "--enclave", E, "--privilege", "Admin", target], adminKey),
      kms(["add-policy", "--enclave", "elsewhere", "p", file("any.yml", "allow:\n  KEY:LIST: '*'\n")], adminKey),
    ]);
    fails(bogus, /--privilege must be SysAdmin, Admin or User/, "--privilege Root");
    assert.equal(bogus.code, 2, "a usage error exits 2");
    fails(sys, new RegExp(`${DENIED_MESSAGE} \\(HTTP 403\\)`), "an Admin adds a SysAdmin");
    ok(adm, "an Admin adds an Admin");
    fails(pol, new RegExp(DENIED_MESSAGE), "an Admin adds a policy in an enclave that does not exist (403, not 404)");
    assert.equal(await status(admin.identityStatus(E, target)), 200);
  });

  it("bad policy files fail with a clear error, a non-zero exit, and create nothing", async () => {
    const cases: Array<[string, string | null, RegExp]> = [
      ["missing file", null, /cannot read policy .*missing\.yml/],
      ["broken JSON", '{"allow": {"KEY:LIST": ["*"]', /cannot read policy/],
      ["broken YAML", "allow:\n  KEY:LIST: [a\n  - b: : c\n", /cannot read policy/],
      ["allow is a list", "allow:\n  - KEY:LIST\n", /invalid policy/],
      ["a rule set is a number", "allow:\n  KEY:LIST: 5\n", /invalid policy .*KEY:LIST/],
      ["a top-level list", "- allow\n", /invalid policy/],
      ["a misspelt top-level key", "alow:\n  KEY:LIST: '*'\n", /invalid policy/],
      ["a misspelt command name", "allow:\n  KEY:LSIT: '*'\n", /invalid policy .*allow: unknown command 'KEY:LSIT'; did you mean 'KEY:LIST'\?\nvalid commands: KEY:CREATE, /],
      ["a command no policy can grant", "allow:\n  ENCLAVE:CREATE: '*'\n", /'ENCLAVE:CREATE' is for SysAdmins only/],
      ["a bad pattern", "allow:\n  KEY:LIST: 'a b'\n", /invalid policy/],
    ];
    const runs = await Promise.all(cases.map(([label, text], i) => {
      const f = text === null ? path.join(work, "missing.yml") : file(`bad-${i}.yml`, text);
      return kms(["add-policy", "--enclave", E, `bad-${i}`, f]).then((r) => [label, r] as const);
    }));
    const problems: string[] = [];
    runs.forEach(([label, r], i) => {
      try {
        fails(r, cases[i][2], `add-policy with ${label}`);
      } catch (err) {
        problems.push(`${(err as Error).message}; exit ${r.code}; stderr ${JSON.stringify(r.stderr)}`);
      }
    });
    assert.deepEqual(problems, []);
    const names = (await admin.listPolicies(E)).policies as Array<{ name: string }>;
    assert.deepEqual(names.filter((p) => p.name.startsWith("bad-")), [], "no bad policy was created");
  });

  it("add-identity --policy with a policy that does not exist fails and leaves no identity behind", async () => {
    const id = parseApiKey(newApiKey()).identity;
    fails(await kms(["add-identity", "--enclave", E, "--policy", "no-such-policy", id]), /policy does not exist/, "add-identity --policy no-such-policy");
    assert.equal(await status(admin.identityStatus(E, id)), 404, "a failed add-identity must not leave the identity (without its policy) behind");
    ok(await kms(["add-identity", "--enclave", E, "--policy", "pj", id]), "retrying with the right policy");
  });
});
