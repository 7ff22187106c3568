/**
 * The README's "tenants and policies" example, run for real: the policy file
 * is taken from README.md itself, set up with the CLI as the README shows, and
 * then the MinIO identity is shown to do exactly what the policy allows
 * (KEY:CREATE/GENERATE/DECRYPT/STATUS/LIST on minio-* in its enclave) and
 * nothing else: not other keys, not deletion, not other enclaves, not
 * policies, identities, enclaves or the cluster.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { parseApiKey } from "../../lib/identity/apikey.ts";
import { ALL_COMMANDS, DENIED, globMatch, isWrite, LIST_COMMANDS, listedNames, type Op, type Outcome, send, show } from "../helpers/access-model.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TENANT = "tenant-1";
const OTHER = "tenant-2";
const ALLOWED = new Set(["KEY:CREATE", "KEY:GENERATE", "KEY:DECRYPT", "KEY:STATUS", "KEY:LIST"]);

/** The policy file of the README's example: the lines after `$ cat minio-policy.yml` up to the next prompt. */
function readmePolicy(): string {
  const lines = readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
  const at = lines.findIndex((l) => /^\$ cat minio-policy\.yml\s*$/.test(l));
  assert.ok(at >= 0, "README.md shows `$ cat minio-policy.yml`");
  const end = lines.findIndex((l, i) => i > at && (l.startsWith("$ ") || l.startsWith("```")));
  return lines.slice(at + 1, end).join("\n") + "\n";
}

let server: KmsServer;
let env: Record<string, string>;
let admin: KmsClient;
let minioKey: string;
let minio: KmsClient;
let minioIdentity: string;

const kms = (args: string[], apiKey?: string): Promise<RunResult> => runKms(args, { ...env, ...(apiKey ? { MINIO_KMS_API_KEY: apiKey } : {}) });
function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  server = await startServer();
  env = { ...server.env(), MINIO_KMS_ENCLAVE: "" };
  admin = server.client();
});
after(cleanup);

describe("README: a MinIO identity restricted to its keys", () => {
  it("the README's steps work as shown", async () => {
    const policyFile = path.join(tempDir("kms-readme-"), "minio-policy.yml");
    writeFileSync(policyFile, readmePolicy());
    ok(await kms(["add-enclave", TENANT]), "add-enclave");
    assert.match(ok(await kms(["add-policy", "--enclave", TENANT, "minio", policyFile]), "add-policy"), /^Created policy minio in enclave tenant-1$/m);
    const out = ok(await kms(["identity", "new"]), "identity new");
    minioKey = /^API key\s+(k[12]:\S+)$/m.exec(out)?.[1] ?? assert.fail(`no API key in: ${out}`);
    minioIdentity = /^Identity\s+(h1:\S+)$/m.exec(out)?.[1] ?? assert.fail(`no identity in: ${out}`);
    assert.equal(parseApiKey(minioKey).identity, minioIdentity);
    assert.equal(ok(await kms(["add-identity", "--enclave", TENANT, "--policy", "minio", minioIdentity]), "add-identity").trim(),
      `Added identity ${minioIdentity} to enclave ${TENANT}`);
    minio = server.client(minioKey);

    // Keys the README takes for granted: MinIO creates its own key; someone else made other-key.
    await admin.createKey(TENANT, "other-key");
    ok(await kms(["add-key", "--enclave", TENANT, "minio-key"], minioKey), "MinIO creates minio-key");
    const [gen, other, rm, ls] = await Promise.all([
      kms(["keygen", "--enclave", TENANT, "minio-key"], minioKey),
      kms(["keygen", "--enclave", TENANT, "other-key"], minioKey),
      kms(["rm-key", "--force", "--enclave", TENANT, "minio-key"], minioKey),
      kms(["ls-key", "--enclave", TENANT], minioKey),
    ]);
    assert.match(ok(gen, "keygen minio-key"), /^Version\s+1$/m);
    for (const [r, what] of [[other, "keygen other-key"], [rm, "rm-key minio-key"]] as const) {
      assert.equal(r.code, 1, `${what}: exit code`);
      assert.equal(r.stderr.split("\n")[0], "kms: access denied: insufficient permissions (HTTP 403)", what);
      assert.ok(r.stderr.includes(`you are ${minioIdentity} `), `${what}: the caller is told its own identity`);
    }
    const rows = ok(ls, "ls-key").trim().split("\n");
    assert.match(rows[0], /^NAME\s+VERSION\s+TYPE\s+CREATED$/);
    assert.equal(rows.length, 2, `only minio-key is listed: ${ls.stdout}`);
    assert.match(rows[1], /^minio-key\s+1\s+AES256\s+\d{4}-\d\d-\d\dT/);
  });

  it("the MinIO identity can do exactly what the policy allows, and nothing else", async () => {
    assert.ok(minio, "the previous step set up the MinIO identity");
    await admin.createEnclave(OTHER);
    for (const k of ["minio-key", "other-key"]) await admin.createKey(OTHER, k);
    const ad = new TextEncoder().encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));
    const g = await minio.generate(TENANT, "minio-key", ad, 32);
    assert.equal((g.plaintext as Uint8Array).length, 32);
    const d = await minio.decrypt(TENANT, "minio-key", g.ciphertext as Uint8Array, ad);
    assert.deepEqual(d.plaintext, g.plaintext, "MinIO decrypts its DEK (version 0)");
    const other = await admin.encrypt(TENANT, "other-key", new Uint8Array(8));
    const mine = await minio.generate(TENANT, "minio-key"); // no associated data, as the requests below send

    const names: Record<string, string[]> = {
      KEY: ["minio-key", "minio-new", "minio-missing", "other-key", "missing"],
      POLICY: ["minio", "minio-x"],
      IDENTITY: [minioIdentity, parseApiKey(server.apiKey).identity],
      ENCLAVE: [TENANT, OTHER],
      CLUSTER: [""],
    };
    const problems: string[] = [];
    // Reads first, writes after them, deletions last: a wrongly allowed deletion cannot hide other findings.
    const order = (c: string) => (c.endsWith(":DELETE") ? 2 : isWrite(c) ? 1 : 0);
    const commands = [...ALL_COMMANDS].sort((a, b) => order(a) - order(b));
    let checked = 0;
    for (const command of commands) {
      const kind = command.split(":")[0];
      for (const enclave of [TENANT, OTHER, "no-such-enclave"]) {
        for (const name of LIST_COMMANDS.has(command) ? [""] : names[kind]) {
          if ((kind === "ENCLAVE" || kind === "CLUSTER") && enclave !== TENANT) continue; // no request enclave
          const op: Op = {
            command, enclave: kind === "ENCLAVE" || kind === "CLUSTER" ? "" : enclave, name,
            identity: minioIdentity, privilege: "User", policy: { allow: { "KEY:DELETE": ["*"] }, deny: {} },
            ciphertext: (name === "other-key" ? other.ciphertext : mine.ciphertext) as Uint8Array,
          };
          const allowed = ALLOWED.has(command) && enclave === TENANT && (LIST_COMMANDS.has(command) || globMatch("minio-*", name));
          const expected: Outcome | "allowed" = allowed ? "allowed" : DENIED;
          const { outcome, messages } = await send(minio, [op]);
          checked++;
          const where = `${command} ${name} in ${enclave}`;
          if (expected === "allowed") {
            const exists = name === "minio-key" || LIST_COMMANDS.has(command);
            const normal = command === "KEY:CREATE" ? (exists ? 409 : 200) : exists ? 200 : 404;
            if (outcome.status !== normal) problems.push(`${where}: ${show(outcome)}, expected ${normal}`);
            if (outcome.status === 200 && command === "KEY:LIST") {
              const listed = listedNames(command, messages[0]);
              if (JSON.stringify(listed) !== JSON.stringify(["minio-key"])) problems.push(`${where}: listed ${JSON.stringify(listed)}`);
            }
            if (outcome.status === 200 && command === "KEY:CREATE") await admin.deleteKey(TENANT, name);
          } else if (outcome.status !== 403 || outcome.message !== DENIED.message) {
            problems.push(`${where}: ${show(outcome)}, expected ${show(DENIED)}`);
          }
        }
      }
    }
    assert.ok(checked > 100, `checked ${checked} requests`);
    assert.deepEqual(problems, [], `the MinIO identity's access differs from its policy:\n${problems.join("\n")}`);
    // Nothing it was denied changed anything.
    assert.deepEqual(listedNames("KEY:LIST", await admin.listKeys(TENANT)).sort(), ["minio-key", "other-key"]);
    assert.deepEqual(listedNames("KEY:LIST", await admin.listKeys(OTHER)).sort(), ["minio-key", "other-key"]);
    assert.deepEqual(listedNames("POLICY:LIST", await admin.listPolicies(TENANT)), ["minio"]);
    assert.equal((await admin.identityStatus(TENANT, minioIdentity)).policy, "minio");
  });
});
