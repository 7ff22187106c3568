import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ConfigError, parseConfig, substituteEnv } from "./config.ts";
import { parseDuration } from "./duration.ts";

const HEX = "dd46485bedc9ad2909d2e8f9017216eec4413bc5c64b236d992f7ec19c843c5f";
const base = `tls: {key: k.pem, cert: c.pem}\nkeystore:\n  fs:\n    path: /tmp/keys\n`;

test("durations in Go's syntax", () => {
  assert.equal(parseDuration("5m0s"), 300_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration(20), 20_000);
  for (const bad of ["", "5x", "m5", "-1s", "5 m"]) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
});

test("defaults of a minimal config", () => {
  const c = parseConfig(base, "kes.yml", {});
  assert.equal(c.address, "0.0.0.0:7373");
  assert.equal(c.admin, undefined);
  assert.deepEqual(c.cache, { anyMs: 300_000, unusedMs: 30_000, offlineMs: 0, probeMs: 10_000 });
  assert.deepEqual(c.log, { error: true, audit: false });
  assert.deepEqual(c.keystore, { kind: "fs", path: "/tmp/keys" });
  assert.equal(c.tls.verifyClients, false);
});

test("${VAR} substitution everywhere, and hex identities become h1:", () => {
  const text = `address: \${ADDR}\nadmin:\n  identity: \${ADMIN}\n${base}policy:\n  minio:\n    allow: ["/v1/key/generate/\${PREFIX}*"]\n    identities: ["\${MINIO}", "\${UNSET}"]\n`;
  const c = parseConfig(text, "kes.yml", { ADDR: "127.0.0.1:7000", ADMIN: HEX.toUpperCase(), PREFIX: "minio-", MINIO: "ab".repeat(32), UNSET: "" });
  assert.equal(c.address, "127.0.0.1:7000");
  assert.equal(c.admin, "h1:" + Buffer.from(HEX, "hex").toString("base64url"));
  const p = c.policies.get("minio")!;
  assert.deepEqual(p.allow, ["/v1/key/generate/minio-*"]);
  assert.deepEqual(p.identities, ["h1:" + Buffer.from("ab".repeat(32), "hex").toString("base64url")]);
  assert.deepEqual(substituteEnv({ a: ["${X}-${Y}"] }, { X: "1", Y: "" }), { a: ["1-"] });
});

test("an unset ${VAR} is an error naming the variable and where it is used; set but empty is fine", () => {
  const text = `${base}admin:\n  identity: \${KES_ADMIN}\npolicy:\n  minio:\n    identities: ["\${MINIO_ID}"]\n`;
  assert.throws(() => parseConfig(text, "kes.yml", { MINIO_ID: "ab".repeat(32) }),
    (e: Error) => e instanceof ConfigError && /^kes\.yml: \$\{KES_ADMIN\} is not set \(used at admin\.identity\)/.test(e.message));
  assert.throws(() => parseConfig(text, "kes.yml", { KES_ADMIN: "disabled" }),
    (e: Error) => e instanceof ConfigError && /\$\{MINIO_ID\} is not set \(used at policy\.minio\.identities\[0\]\)/.test(e.message));
  assert.equal(parseConfig(text, "kes.yml", { KES_ADMIN: "", MINIO_ID: "" }).admin, undefined);
});

test("a misspelt setting is an error naming it (with the likely meaning); KES settings kms ignores are accepted", () => {
  const bad: Array<[string, RegExp]> = [
    [`${base}adress: 0.0.0.0:7373\n`, /kes\.yml: unknown setting adress \(did you mean address\?\)/],
    [`tls: {key: k, cert: c, ca_file: x}\nkeystore: {fs: {path: /k}}\n`, /unknown setting tls\.ca_file \(known here: key, cert, password, auth, ca, proxy\)/],
    [`${base}cache: {expiry: {unsued: 20s}}\n`, /unknown setting cache\.expiry\.unsued \(did you mean unused\?\)/],
    [`${base}policy: {p: {alow: [/v1/status]}}\n`, /unknown setting policy\.p\.alow \(did you mean allow\?\)/],
    [`tls: {key: k, cert: c}\nkeystore: {fs: {paht: /k}}\n`, /unknown setting keystore\.fs\.paht \(did you mean path\?\)/],
    [`tls: {key: k, cert: c}\nkeystore: {vault: {endpoint: https://v, approle: {id: a, secret: b, retyr: 1s}}}\n`, /unknown setting keystore\.vault\.approle\.retyr \(did you mean retry\?\)/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(text, "kes.yml", {}), (e: Error) => e instanceof ConfigError && re.test(e.message), text);
  const kes = parseConfig(`version: v1\n${base}api:\n  /v1/status: {skip_auth: true, timeout: 15s}\n`, "kes.yml", {});
  assert.equal(kes.keystore.kind, "fs");
  parseConfig(`tls: {key: k, cert: c, proxy: {identities: [], header: {cert: X-Tls-Client-Cert}}}\nkeystore: {fs: {path: /k}}\n`, "kes.yml", {});
});

test("every key store's section", () => {
  const vault = parseConfig(`tls: {key: k, cert: c}\nkeystore:\n  vault:\n    endpoint: https://v:8200/\n    version: v2\n    prefix: /a/b/\n    approle: {id: i, secret: s, retry: 2s}\n    transit: {key: t}\n    status: {ping: 3s}\n`, "f", {});
  assert.deepEqual(vault.keystore, {
    kind: "vault", endpoint: "https://v:8200", engine: "kv", version: "v2", namespace: "", prefix: "a/b",
    approle: { engine: "approle", id: "i", secret: "s", retryMs: 2000 }, token: undefined, transit: { engine: "transit", key: "t" },
    tls: { key: undefined, cert: undefined, ca: undefined }, pingMs: 3000,
  });
  assert.equal(vault.cache.probeMs, 3000, "vault's status.ping sets the probe interval");
  const aws = parseConfig(`tls: {key: k, cert: c}\nkeystore:\n  aws:\n    secretsmanager:\n      region: eu-west-1\n      credentials: {accesskey: a, secretkey: s}\n`, "f", {});
  assert.deepEqual(aws.keystore, { kind: "aws.secretsmanager", endpoint: undefined, region: "eu-west-1", kmsKey: undefined, credentials: { accessKey: "a", secretKey: "s", token: undefined } });
  const kms = parseConfig(`tls: {key: k, cert: c}\nkeystore:\n  kms:\n    endpoint: [a:7373, b:7373]\n    enclave: e\n    api_key: k1:x\n`, "f", {});
  assert.deepEqual(kms.keystore, { kind: "kms", endpoints: ["a:7373", "b:7373"], enclave: "e", apiKey: "k1:x", ca: undefined, insecure: false });
  // KES before 0.14 kept the store under `keys:` and policies under `paths:`.
  const old = parseConfig(`tls: {key: k, cert: c}\npolicy:\n  p:\n    paths: [/v1/key/create/*]\nkeys:\n  fs:\n    path: /k\n`, "f", {});
  assert.equal(old.keystore.kind, "fs");
  assert.deepEqual(old.policies.get("p")!.allow, ["/v1/key/create/*"]);
});

test("problems name the file and setting", () => {
  const bad: Array<[string, RegExp]> = [
    ["tls: [", /kes\.yml: not valid YAML/],
    [`keystore: {fs: {path: /k}}\n`, /kes\.yml: tls/],
    [`tls: {key: k, cert: c}\n`, /configure exactly one key store/],
    [`tls: {key: k, cert: c}\nkeystore: {fs: {path: /a}, vault: {endpoint: https://v}}\n`, /exactly one key store/],
    [`tls: {key: k, cert: c}\nkeystore: {gcp: {secretmanager: {}}}\n`, /keystore\.gcp: this key store is not supported/],
    [`${base}admin: {identity: nothex}\n`, /admin\.identity/],
    [`${base}policy: {p: {allow: [v1/key/*]}}\n`, /policy\.p: 'v1\/key\/\*' is not a path pattern/],
    [`${base}policy: {p: {identities: [${HEX}]}, q: {identities: [${HEX}]}}\n`, /already assigned to policy p/],
    [`${base}keys: [{name: "-bad"}]\n`, /keys: '-bad' is not a valid key name/],
    [`${base}cache: {expiry: {any: 5 minutes}}\n`, /cache\.expiry\.any: invalid duration/],
    [`tls: {key: k, cert: c}\nkeystore: {vault: {endpoint: https://v}}\n`, /approle: id and secret are required/],
    [`tls: {key: k, cert: c}\nkeystore: {vault: {endpoint: https://v, approle: {id: a, secret: b}, kubernetes: {role: r}}}\n`, /Kubernetes auth is not supported/],
    [`tls: {key: k, cert: c, auth: on}\nkeystore: {fs: {path: /k}}\n`, /tls\.auth: verifying client certificates needs tls\.ca/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(text, "kes.yml", {}), (e: Error) => e instanceof ConfigError && re.test(e.message), text);
});

test("secrets in the config never appear in errors", () => {
  const text = `tls: {key: k, cert: c}\nkeystore:\n  vault:\n    endpoint: not-a-url\n    approle: {id: i, secret: TOPSECRET}\n`;
  assert.throws(() => parseConfig(text, "f", {}), (e: Error) => !e.message.includes("TOPSECRET"));
});

test("the README's edge configs parse", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Edge mode and KES"));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 2, "the README has the edge configs");
  const env = { KES_ADMIN_IDENTITY: HEX, MINIO_IDENTITY: "ab".repeat(32), VAULT_ROLE_ID: "r", VAULT_SECRET_ID: "s", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", KMS_EDGE_API_KEY: "k1:x" };
  const full = parseConfig(blocks[0], "README.md", env);
  assert.equal(full.keystore.kind, "fs");
  assert.deepEqual(full.keys, ["minio-default-key"]);
  assert.equal(full.cache.offlineMs, 3_600_000);
  const kinds = blocks[1].split(/^---$/m).map((doc) => parseConfig(`tls: {key: k, cert: c}\n${doc}`, "README.md", env).keystore.kind);
  assert.deepEqual(kinds, ["vault", "aws.secretsmanager", "kms"]);
});
