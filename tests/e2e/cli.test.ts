/**
 * The `kms` CLI end to end: every command against one real server, through
 * separate CLI processes, with human and --json output, help, usage errors,
 * server errors, environment errors and TLS trust options.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseApiKey } from "../../lib/identity/apikey.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { assertErrReply, assertServerHealthy, expectJson, expectOk, framesOf, kesEncrypt, oneShotClient, postNative, rawRequest, redact } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

const HSM_KEY_TEXT = /^hsm:aes256:[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

let server: KmsServer;
let env: Record<string, string>;
let adminIdentity: string;
let work: string;

/** Runs the CLI against the shared server. */
function kms(args: string[], extraEnv: Record<string, string> = {}, input?: string | Uint8Array): Promise<RunResult> {
  return runKms(args, { ...env, ...extraEnv }, { input });
}

const ok = expectOk;
const json = expectJson;

/** Asserts a failed run: exit code (exact, or just non-zero) and a stderr message; nothing on stdout. */
function fails(r: RunResult, code: number | "nonzero", stderr: RegExp, what: string): void {
  if (code === "nonzero") assert.notEqual(r.code, 0, `${what}: expected a failure, stdout: ${redact(r.stdout)}`);
  else assert.equal(r.code, code, `${what}: expected exit ${code}, got ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, stderr, `${what}: stderr`);
  assert.ok(r.stdout.trim() === "", `${what}: a failed command prints nothing on stdout, got: ${redact(r.stdout)}`);
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

describe("kms CLI", () => {
  before(async () => {
    server = await startServer();
    env = { ...server.env(), MINIO_KMS_ENCLAVE: "" };
    adminIdentity = parseApiKey(server.apiKey).identity;
    work = tempDir("kms-cli-");
  });
  after(cleanup);

  describe("help and usage errors", () => {
    const COMMANDS = [
      "server", "dev", "ls", "add-enclave", "rm-enclave", "stat-enclave", "ls-enclave",
      "add-key", "import-key", "rm-key", "stat-key", "ls-key",
      "encrypt", "decrypt", "keygen", "mac", "identity", "hsm",
    ];

    it("kms --help lists every command and exits 0; bare kms prints usage and exits 2", async () => {
      const [help, bare, version] = await Promise.all([runKms(["--help"]), runKms([]), runKms(["--version"])]);
      const text = ok(help, "kms --help");
      assert.match(text, /Usage/);
      for (const c of COMMANDS) assert.match(text, new RegExp(`^\\s+${c}\\s`, "m"), `kms --help lists ${c}`);
      assert.equal(bare.code, 2);
      assert.match(bare.stdout + bare.stderr, /Usage/);
      assert.match(ok(version, "kms --version"), /^kms \d+\.\d+\.\d+/);
    });

    it("every command's --help exits 0 with its usage, without touching the server", async () => {
      // Every command kms --help lists (so commands added later are covered too), plus the required ones.
      const listed = [...ok(await runKms(["--help"]), "kms --help").matchAll(/^  ([a-z][a-z-]*)\s{2,}\S/gm)].map((m) => m[1]);
      const all = [...new Set([...COMMANDS, ...listed])];
      // No server in the environment: help must not need one.
      const noEnv = { MINIO_KMS_SERVER: "", MINIO_KMS_API_KEY: "", MINIO_KMS_HSM_KEY: "" };
      // Dozens of processes at once: a loaded machine may take a while to run them all.
      const runs = await Promise.all(all.map((c) => runKms([c, "--help"], noEnv, { timeoutMs: 110_000 })));
      runs.forEach((r, i) => {
        const c = all[i];
        const out = ok(r, `kms ${c} --help`);
        assert.match(out, /Usage/, `kms ${c} --help shows its usage`);
        assert.ok(out.includes(`kms ${c}`), `kms ${c} --help names the command`);
      });
      // -h is the short form, and help wins over missing arguments.
      const short = ok(await runKms(["add-key", "-h"], noEnv), "kms add-key -h");
      assert.equal(short, runs[all.indexOf("add-key")].stdout);
    });

    it("an unknown command exits 2 and says so", async () => {
      fails(await kms(["frobnicate"]), 2, /unknown command 'frobnicate'/, "kms frobnicate");
    });

    it("an unknown flag exits 2 and names it", async () => {
      fails(await kms(["ls", "--bogus"]), 2, /bogus/, "kms ls --bogus");
      fails(await kms(["add-key", "-e", "x", "k", "--colour", "red"]), 2, /colour/, "kms add-key --colour");
    });

    it("a wrong number of arguments exits 2", async () => {
      const cases: string[][] = [
        ["add-enclave"], ["add-enclave", "a", "b"], ["ls-enclave", "a", "b"], ["import-key", "-e", "x", "k"],
        ["stat-key", "-e", "x", "a", "b"], ["encrypt", "-e", "x", "k", "a", "b"], ["ls", "extra"], ["hsm"], ["server"],
      ];
      const runs = await Promise.all(cases.map((c) => kms(c)));
      runs.forEach((r, i) => fails(r, 2, /expected .*argument/, `kms ${cases[i].join(" ")}`));
    });

    it("a flag value that is not a number exits 2", async () => {
      fails(await kms(["keygen", "-e", "x", "k", "--length", "abc"]), 2, /--length must be a non-negative integer/, "keygen --length abc");
      fails(await kms(["stat-key", "-e", "x", "k", "--version", "-1"]), 2, /--version|argument/, "stat-key --version -1");
    });

    it("key commands without an enclave exit 2", async () => {
      fails(await kms(["stat-key", "k"]), 2, /no enclave: pass --enclave NAME or set MINIO_KMS_ENCLAVE/, "stat-key without enclave");
    });
  });

  describe("environment and TLS trust", () => {
    it("without MINIO_KMS_SERVER the CLI says what to set", async () => {
      fails(await kms(["ls"], { MINIO_KMS_SERVER: "" }), "nonzero", /MINIO_KMS_SERVER is not set/, "no server");
    });

    it("without MINIO_KMS_API_KEY the CLI says what to set", async () => {
      fails(await kms(["ls"], { MINIO_KMS_API_KEY: "" }), "nonzero", /MINIO_KMS_API_KEY is not set/, "no API key");
    });

    it("a malformed MINIO_KMS_API_KEY is refused without echoing it", async () => {
      const bad = "k1:not-a-valid-key-at-all";
      const r = await kms(["ls"], { MINIO_KMS_API_KEY: bad });
      fails(r, "nonzero", /MINIO_KMS_API_KEY: invalid API key/, "bad API key");
      assert.ok(!r.stderr.includes(bad), "the error does not echo the key text");
    });

    it("-k/--insecure connects to the self-signed server without --ca", async () => {
      for (const flag of ["-k", "--insecure"]) {
        const out = json(await kms(["ls", flag, "--json"], { KMS_CA: "" }), `kms ls ${flag}`);
        assert.equal(Object.keys(out.nodes_up).length, 1);
      }
    });

    it("--ca FILE trusts the server's certificate", async () => {
      const out = json(await kms(["ls", "--ca", server.caFile, "--json"], { KMS_CA: "" }), "kms ls --ca");
      assert.equal(Object.keys(out.nodes_up).length, 1);
    });

    it("without --ca or -k the CLI refuses the self-signed server", async () => {
      const r = await kms(["ls"], { KMS_CA: "" });
      fails(r, "nonzero", /cannot reach the server|certificate|self.signed/i, "no trust");
    });

    it("--ca with a missing file is a clear error", async () => {
      fails(await kms(["ls", "--ca", path.join(work, "nope.crt")], { KMS_CA: "" }), "nonzero", /cannot read --ca/, "--ca missing");
    });

    it("MINIO_KMS_SERVER may list several servers (a dead one is skipped) and take https:// URLs", async () => {
      const runs = await Promise.all([
        kms(["ls", "--json"], { MINIO_KMS_SERVER: `127.0.0.1:1,${server.address}` }),
        kms(["ls", "--json"], { MINIO_KMS_SERVER: `${server.address},127.0.0.1:1` }),
        kms(["ls", "--json"], { MINIO_KMS_SERVER: ` https://${server.address} ` }),
      ]);
      runs.forEach((r, i) => assert.equal(Object.keys(json(r, `ls with server list ${i}`).nodes_up).length, 1));
    });

    it("an unreachable server is a clear error, not a stack trace", async () => {
      const r = await kms(["ls"], { MINIO_KMS_SERVER: "127.0.0.1:1" });
      fails(r, 1, /cannot reach the server/, "unreachable");
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  });

  describe("ls", () => {
    it("lists the single node as the leader", async () => {
      const text = ok(await kms(["ls"]), "kms ls");
      const lines = text.trim().split("\n");
      assert.match(lines[0], /^ID\s+ADDRESS\s+ROLE\s+COMMIT\s+STATE$/);
      assert.equal(lines.length, 4);
      assert.deepEqual(lines.slice(2), ["", "Writes: possible (every node is up)"]);
      assert.match(lines[1], new RegExp(`^0\\s+${server.address.replace(/\./g, "\\.")}\\s+Leader\\s+\\d+\\s+up$`));
      const out = json(await kms(["ls", "--json"]), "kms ls --json");
      assert.deepEqual(Object.keys(out.nodes_up), ["0"]);
      assert.equal(out.nodes_up["0"].role, "Leader");
      assert.equal(out.nodes_up["0"].host, server.address);
      assert.deepEqual(out.nodes_down, {});
    });
  });

  describe("enclaves", () => {
    it("add-enclave, ls-enclave, stat-enclave, rm-enclave", async () => {
      const [created, createdJson] = await Promise.all([kms(["add-enclave", "cli-enc-a"]), kms(["add-enclave", "cli-enc-b", "--json"])]);
      assert.match(ok(created, "add-enclave"), /Created enclave cli-enc-a/);
      assert.deepEqual(json(createdJson, "add-enclave --json"), { name: "cli-enc-b" });
      await oneShotClient(server).createEnclave("other-enc");

      const [all, prefixed, human, stat, statHuman, twice] = await Promise.all([
        kms(["ls-enclave", "--json"]), kms(["ls-enclave", "cli-enc-", "--json"]), kms(["ls-enclave", "cli-enc-"]),
        kms(["stat-enclave", "cli-enc-a", "--json"]), kms(["stat-enclave", "cli-enc-a"]), kms(["add-enclave", "cli-enc-a"]),
      ]);
      const list = json(all, "ls-enclave --json");
      assert.ok(Array.isArray(list));
      const names = list.map((e: any) => e.name);
      for (const n of ["cli-enc-a", "cli-enc-b", "other-enc"]) assert.ok(names.includes(n), `ls-enclave lists ${n}`);
      assert.deepEqual(names, [...names].sort(), "enclaves are listed sorted");
      for (const e of list) {
        assert.equal(e.created_by, adminIdentity);
        assert.match(e.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, "JSON timestamps are RFC 3339");
      }
      assert.deepEqual(json(prefixed, "ls-enclave PREFIX").map((e: any) => e.name), ["cli-enc-a", "cli-enc-b"]);
      const table = ok(human, "ls-enclave human");
      assert.match(table, /^NAME\s+CREATED\s+CREATED BY\n/);
      assert.match(table, /^cli-enc-a\s+\d{4}-\d\d-\d\dT/m);

      const st = json(stat, "stat-enclave --json");
      assert.equal(st.name, "cli-enc-a");
      assert.equal(st.created_by, adminIdentity);
      assert.ok(Math.abs(Date.now() - Date.parse(st.created_at)) < 10 * 60_000, "created_at is now");
      const sh = ok(statHuman, "stat-enclave");
      assert.match(sh, /^Name\s+cli-enc-a$/m);
      assert.match(sh, new RegExp(`^Created by\\s+${adminIdentity.replace(/[-]/g, "\\-")}$`, "m"));
      fails(twice, 1, /enclave already exists/, "add-enclave twice");

      assert.match(ok(await kms(["rm-enclave", "--force", "cli-enc-b"]), "rm-enclave"), /Deleted enclave cli-enc-b/);
      const [statGone, rmTwice, after] = await Promise.all([
        kms(["stat-enclave", "cli-enc-b"]), kms(["rm-enclave", "-f", "cli-enc-b"]), kms(["ls-enclave", "cli-enc-", "--json"]),
      ]);
      fails(statGone, 1, /enclave does not exist/, "stat-enclave after rm");
      fails(rmTwice, 1, /enclave does not exist/, "rm-enclave twice");
      assert.deepEqual(json(after, "ls-enclave after rm").map((e: any) => e.name), ["cli-enc-a"]);
    });

    it("an invalid enclave name is refused by the server with its reason", async () => {
      const [slash, dot] = await Promise.all([kms(["add-enclave", "bad/name"]), kms(["add-enclave", ".hidden"])]);
      fails(slash, 1, /invalid name/, "add-enclave bad/name");
      fails(dot, 1, /invalid name/, "add-enclave .hidden");
    });
  });

  describe("keys", () => {
    const E = "cli-keys";
    before(async () => {
      await oneShotClient(server).createEnclave(E);
    });

    it("add-key creates AES256 by default and ChaCha20 with --type", async () => {
      const [aesRun, chachaRun] = await Promise.all([
        kms(["add-key", "-e", E, "aes"]), kms(["add-key", "--enclave", E, "--type", "ChaCha20", "chacha", "--json"]),
      ]);
      assert.match(ok(aesRun, "add-key"), new RegExp(`Created key aes v1 in enclave ${E}`));
      const chacha = json(chachaRun, "add-key ChaCha20");
      assert.deepEqual([chacha.name, chacha.version, chacha.type], ["chacha", 1, "ChaCha20"]);

      const [stat, viaEnv, twice, rsa, noEnclave] = await Promise.all([
        kms(["stat-key", "-e", E, "aes", "--json"]),
        kms(["stat-key", "chacha", "--json"], { MINIO_KMS_ENCLAVE: E }), // the enclave from the environment works like -e
        kms(["add-key", "-e", E, "aes"]),
        kms(["add-key", "-e", E, "--type", "RSA", "rsa"]),
        kms(["add-key", "-e", "no-such-enclave", "k"]),
      ]);
      const aes = json(stat, "stat-key");
      assert.deepEqual([aes.name, aes.version, aes.type, aes.created_by], ["aes", 1, "AES256", adminIdentity]);
      assert.equal(json(viaEnv, "stat-key via MINIO_KMS_ENCLAVE").type, "ChaCha20");
      fails(twice, 1, /key already exists/, "add-key twice");
      fails(rsa, 2, /--type must be AES256 or ChaCha20, got 'RSA'/, "add-key --type RSA");
      fails(noEnclave, 1, /enclave does not exist/, "add-key in missing enclave");
    });

    it("add-key --version rotates; stat-key --version shows old versions; ls-key shows the latest", async () => {
      await oneShotClient(server).createKey(E, "rot");
      assert.match(ok(await kms(["add-key", "-e", E, "--version", "rot"]), "rotate"), /Added version rot v2/);
      assert.equal(json(await kms(["add-key", "-e", E, "--version", "rot", "--json"]), "rotate --json").version, 3);
      const [latest, v1, v2, v9, missing, lsJson, lsPrefix, lsHuman] = await Promise.all([
        kms(["stat-key", "-e", E, "rot", "--json"]),
        kms(["stat-key", "-e", E, "rot", "--version", "1", "--json"]),
        kms(["stat-key", "-e", E, "rot", "--version", "2"]),
        kms(["stat-key", "-e", E, "rot", "--version", "9"]),
        kms(["add-key", "-e", E, "--version", "never-made"]),
        kms(["ls-key", "-e", E, "--json"]),
        kms(["ls-key", "-e", E, "ro", "--json"]),
        kms(["ls-key", "-e", E, "rot"]),
      ]);
      assert.equal(json(latest, "stat latest").version, 3);
      assert.equal(json(v1, "stat v1").version, 1);
      const human = ok(v2, "stat v2 human");
      assert.match(human, /^Name\s+rot$/m);
      assert.match(human, /^Version\s+2$/m);
      assert.match(human, /^Type\s+AES256$/m);
      fails(v9, 1, /key does not exist/, "stat v9");
      fails(missing, 1, /key does not exist/, "rotate missing key");
      const keys = json(lsJson, "ls-key --json");
      assert.equal(keys.find((k: any) => k.name === "rot").version, 3, "ls-key shows the latest version");
      assert.deepEqual(keys.map((k: any) => k.name), [...keys.map((k: any) => k.name)].sort());
      assert.deepEqual(json(lsPrefix, "ls-key PREFIX").map((k: any) => k.name), ["rot"]);
      const table = ok(lsHuman, "ls-key human");
      assert.match(table, /^NAME\s+VERSION\s+TYPE\s+CREATED\n/);
      assert.match(table, /^rot\s+3\s+AES256\s+\d{4}-/m);
    });

    it("rm-key deletes the latest version, --version N, or --all", async () => {
      const c = oneShotClient(server);
      await c.createKey(E, "del");
      for (let i = 0; i < 3; i++) await c.createKey(E, "del", "", true); // v1..v4

      assert.equal(ok(await kms(["rm-key", "--force", "-e", E, "del", "--version", "2"]), "rm-key --version 2").trim(), `Deleted del v2 in enclave ${E}; v4 is the latest`);
      const [v2, v1] = await Promise.all([kms(["stat-key", "-e", E, "del", "--version", "2"]), kms(["stat-key", "-e", E, "del", "--version", "1", "--json"])]);
      fails(v2, 1, /key does not exist/, "v2 is gone");
      assert.equal(json(v1, "v1 stays").version, 1);

      assert.equal(ok(await kms(["rm-key", "--force", "-e", E, "del"]), "rm-key latest").trim(), `Deleted del v4 in enclave ${E}; v3 is the latest`);
      assert.equal((await c.keyStatus(E, "del")).version, 3, "the latest (v4) was deleted");

      assert.deepEqual(json(await kms(["rm-key", "--force", "-e", E, "del", "--all", "--json"]), "rm-key --all"), { name: "del", enclave: E, all_versions: true });
      const [stat, rm, ls] = await Promise.all([kms(["stat-key", "-e", E, "del"]), kms(["rm-key", "--force", "-e", E, "del"]), kms(["ls-key", "-e", E, "--json"])]);
      fails(stat, 1, /key does not exist/, "stat after --all");
      fails(rm, 1, /key does not exist/, "rm-key missing");
      assert.ok(!json(ls, "ls-key").map((k: any) => k.name).includes("del"), "ls-key no longer lists it");
    });

    it("import-key reads 32 raw bytes, base64, or base64 from stdin; the imported bytes are the key", async () => {
      const keys = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
      const rawFile = path.join(work, "raw.key");
      const b64File = path.join(work, "b64.key");
      writeFileSync(rawFile, keys[0]);
      writeFileSync(b64File, b64(keys[1]) + "\n");
      const [raw, fromB64, stdinB64, stdinRaw] = await Promise.all([
        kms(["import-key", "-e", E, "imp-raw", rawFile]),
        kms(["import-key", "-e", E, "imp-b64", b64File, "--json"]),
        kms(["import-key", "-e", E, "imp-stdin", "-"], {}, b64(keys[2]) + "\n"),
        kms(["import-key", "-e", E, "--type", "ChaCha20", "imp-stdin-raw", "-"], {}, keys[3]),
      ]);
      assert.match(ok(raw, "import raw"), new RegExp(`Imported key imp-raw into enclave ${E}`));
      assert.deepEqual(json(fromB64, "import b64"), { name: "imp-b64", enclave: E });
      ok(stdinB64, "import from stdin (base64)");
      ok(stdinRaw, "import from stdin (raw)");
      assert.equal((await oneShotClient(server).keyStatus(E, "imp-stdin-raw")).type, "ChaCha20");

      // A KES-format ciphertext made here under the known bytes opens only if the server holds exactly them.
      const names = ["imp-raw", "imp-b64", "imp-stdin", "imp-stdin-raw"];
      const opened = await Promise.all(names.map((name, i) => {
        const ct = kesEncrypt(i === 3 ? "ChaCha20" : "AES256", keys[i], Buffer.from(`secret ${name}`), Buffer.from("ctx"));
        return kms(["decrypt", "-e", E, "--context", "ctx", name, b64(ct)]);
      }));
      names.forEach((name, i) => assert.equal(ok(opened[i], `decrypt under ${name}`).trim(), `secret ${name}`, `${name} holds the imported bytes`));

      fails(await kms(["import-key", "-e", E, "imp-raw", rawFile]), 1, /key already exists/, "import over an existing key");
    });

    it("import-key refuses files that do not hold a 32-byte key", async () => {
      const short = path.join(work, "short.key");
      writeFileSync(short, b64(randomBytes(16)));
      const junk = path.join(work, "junk.key");
      writeFileSync(junk, "this is not a key!!\n");
      const [shortRun, junkRun, missing] = await Promise.all([
        kms(["import-key", "-e", E, "imp-short", short]),
        kms(["import-key", "-e", E, "imp-junk", junk]),
        kms(["import-key", "-e", E, "imp-missing", path.join(work, "missing.key")]),
      ]);
      fails(shortRun, 1, /invalid key: must be 32 bytes/, "16-byte key");
      fails(junkRun, "nonzero", /32 raw bytes or their base64/, "junk key file");
      assert.notEqual(missing.code, 0, "a missing key file fails");
      const names = ((await oneShotClient(server).listKeys(E, "imp-")).keys as Array<{ name: string }>).map((k) => k.name);
      for (const n of ["imp-short", "imp-junk", "imp-missing"]) assert.ok(!names.includes(n), `${n} was not created`);
    });
  });

  describe("crypto commands", () => {
    const E = "cli-crypto";
    before(async () => {
      const c = oneShotClient(server);
      await c.createEnclave(E);
      await c.createKey(E, "k");
      await c.createKey(E, "k2");
      await c.createKey(E, "cc", "ChaCha20");
    });

    it("encrypt/decrypt round-trip with --context; the wrong context is an invalid ciphertext", async () => {
      await Promise.all(["k", "cc"].map(async (key) => {
        const ct = ok(await kms(["encrypt", "-e", E, "--context", "bucket/object", key, "hello, wörld"]), `encrypt ${key}`).trim();
        assert.match(ct, /^[A-Za-z0-9+/]+=*$/, "ciphertext is printed as base64");
        const [right, wrong, none, other] = await Promise.all([
          kms(["decrypt", "-e", E, "--context", "bucket/object", key, ct]),
          kms(["decrypt", "-e", E, "--context", "bucket/other", key, ct]),
          kms(["decrypt", "-e", E, key, ct]),
          kms(["decrypt", "-e", E, "--context", "bucket/object", key === "k" ? "k2" : "k", ct]),
        ]);
        assert.equal(ok(right, `decrypt ${key}`), "hello, wörld\n");
        fails(wrong, 1, /invalid ciphertext/, `wrong context ${key}`);
        fails(none, 1, /invalid ciphertext/, `missing context ${key}`);
        fails(other, 1, /invalid ciphertext/, `decrypt under another key than ${key}`);
      }));
      const [notB64, missing] = await Promise.all([kms(["decrypt", "-e", E, "k", "not base64!"]), kms(["encrypt", "-e", E, "missing", "x"])]);
      fails(notB64, 2, /the ciphertext must be base64/, "decrypt non-base64");
      fails(missing, 1, /key does not exist/, "encrypt with a missing key");
    });

    it("encrypt/decrypt --json carry version, ciphertext and plaintext as base64", async () => {
      await oneShotClient(server).createKey(E, "k2", "", true);
      const [encRun, oldRun] = await Promise.all([
        kms(["encrypt", "-e", E, "k2", "json text", "--json"]), kms(["encrypt", "-e", E, "--version", "1", "k2", "old text", "--json"]),
      ]);
      const enc = json(encRun, "encrypt --json");
      assert.equal(enc.version, 2);
      assert.equal(typeof enc.ciphertext, "string");
      const old = json(oldRun, "encrypt --version 1");
      assert.equal(old.version, 1);
      const [dec, decOld, asV2] = await Promise.all([
        kms(["decrypt", "-e", E, "k2", enc.ciphertext, "--json"]),
        kms(["decrypt", "-e", E, "k2", old.ciphertext]),
        kms(["decrypt", "-e", E, "--version", "2", "k2", old.ciphertext]),
      ]);
      assert.equal(Buffer.from(json(dec, "decrypt --json").plaintext, "base64").toString(), "json text");
      assert.equal(ok(decOld, "decrypt v1 ct"), "old text\n");
      fails(asV2, 1, /invalid ciphertext/, "decrypt v1 ct as v2");
    });

    it("keygen prints a 32-byte DEK by default, --length N bytes, and a ciphertext that decrypts to it", async () => {
      const lengths = [1, 64, 1024];
      const [humanRun, tooLong, ...runs] = await Promise.all([
        kms(["keygen", "-e", E, "k"]),
        kms(["keygen", "-e", E, "--length", "1025", "k"]),
        ...lengths.map((length) => kms(["keygen", "-e", E, "--context", "dek-ctx", "--length", String(length), "k", "--json"])),
      ]);
      const human = ok(humanRun, "keygen");
      assert.match(human, /^Version\s+1$/m);
      const pt = /^Plaintext\s+(\S+)$/m.exec(human)?.[1];
      assert.ok(pt, "keygen prints the plaintext");
      assert.equal(Buffer.from(pt, "base64").length, 32);
      assert.match(human, /^Ciphertext\s+\S+$/m);
      fails(tooLong, 1, /at most 1024/, "keygen --length 1025");

      const deks = runs.map((r, i) => json(r, `keygen --length ${lengths[i]}`));
      const backs = await Promise.all(deks.map((d) => kms(["decrypt", "-e", E, "--context", "dek-ctx", "k", d.ciphertext, "--json"])));
      deks.forEach((d, i) => {
        assert.equal(d.version, 1);
        const dek = Buffer.from(d.plaintext, "base64");
        assert.equal(dek.length, lengths[i]);
        assert.ok(Buffer.from(json(backs[i], "decrypt DEK").plaintext, "base64").equals(dek), "the DEK ciphertext decrypts to the DEK");
      });
    });

    it("mac is deterministic per key and differs across keys, versions and messages", async () => {
      // k2 has two versions now (rotated above): the MACs differ.
      const [a, again, otherMessage, otherKey, asJson, v1, v2] = await Promise.all([
        kms(["mac", "-e", E, "k", "message"]),
        kms(["mac", "-e", E, "k", "message"]),
        kms(["mac", "-e", E, "k", "message2"]),
        kms(["mac", "-e", E, "cc", "message"]),
        kms(["mac", "-e", E, "k", "message", "--json"]),
        kms(["mac", "-e", E, "--version", "1", "k2", "m", "--json"]),
        kms(["mac", "-e", E, "k2", "m", "--json"]),
      ]);
      const m1 = ok(a, "mac").trim();
      assert.equal(Buffer.from(m1, "base64").length, 32);
      assert.equal(ok(again, "mac again").trim(), m1);
      assert.notEqual(ok(otherMessage, "mac other message").trim(), m1);
      assert.notEqual(ok(otherKey, "mac other key").trim(), m1);
      assert.deepEqual(json(asJson, "mac --json"), { version: 1, mac: m1 });
      assert.equal(json(v1, "mac v1").version, 1);
      assert.equal(json(v2, "mac v2").version, 2);
      assert.notEqual(json(v1, "mac v1").mac, json(v2, "mac v2").mac);
    });
  });

  describe("identity and hsm", () => {
    it("identity prints the identity of MINIO_KMS_API_KEY", async () => {
      assert.match(ok(await kms(["identity"]), "identity"), new RegExp(`^Identity\\s+${adminIdentity}$`, "m"));
      const kesHex = Buffer.from(adminIdentity.slice(3), "base64url").toString("hex");
      assert.deepEqual(json(await kms(["identity", "--json"]), "identity --json"), { identity: adminIdentity, kes_identity: kesHex });
      assert.ok(server.output().includes(adminIdentity), "the server printed the same admin identity");
      fails(await runKms(["identity"], { MINIO_KMS_API_KEY: "" }), 2, /pass a certificate file, or set MINIO_KMS_API_KEY/, "identity without a key");
    });

    it("identity --hsm DIR unseals the server's admin API key from DIR with MINIO_KMS_HSM_KEY", async () => {
      const r = await runKms(["identity", "--hsm", server.dir, "--json"], { MINIO_KMS_HSM_KEY: server.hsmKey, MINIO_KMS_API_KEY: "" });
      const out = json(r, "identity --hsm");
      assert.ok(out.api_key === server.apiKey, "identity --hsm prints the server's admin API key");
      assert.equal(out.identity, adminIdentity);
      const human = ok(await runKms(["identity", "--hsm", server.dir], { MINIO_KMS_HSM_KEY: server.hsmKey }), "identity --hsm human");
      assert.ok(human.includes(server.apiKey), "the human form shows the admin API key");
      assert.match(human, /^Privilege\s+SysAdmin$/m);
      // Without DIR the CLI says what it needs; another HSM key cannot unseal it.
      fails(await runKms(["identity", "--hsm"], { MINIO_KMS_HSM_KEY: server.hsmKey }), 2, /pass a node's data directory/, "identity --hsm without DIR");
      fails(await runKms(["identity", "--hsm", server.dir], { MINIO_KMS_HSM_KEY: SoftHsm.generate() }), 1, /HSM key does not match/, "identity --hsm with another HSM key");
      fails(await runKms(["identity", "--hsm", work], { MINIO_KMS_HSM_KEY: server.hsmKey }), 1, /cluster\.id does not exist/, "identity --hsm of a non-data dir");
      fails(await runKms(["identity", "--hsm", server.dir], { MINIO_KMS_HSM_KEY: "" }), "nonzero", /kms hsm new/, "identity --hsm without a key");
    });

    it("identity new --cert/--key writes a usable client certificate whose identity matches", async () => {
      const cert = path.join(work, "client.crt");
      const key = path.join(work, "client.key");
      const made = json(await runKms(["identity", "new", "--cert", cert, "--key", key, "--json"]), "identity new");
      assert.ok(/^k1:[A-Za-z0-9_-]{43}$/.test(made.api_key), "identity new prints a k1: API key");
      assert.equal(parseApiKey(made.api_key).identity, made.identity);
      assert.notEqual(made.identity, adminIdentity);
      assert.equal(statSync(key).mode & 0o777, 0o600, "the private key file is owner-only");
      assert.match(readFileSync(cert, "utf8"), /^-----BEGIN CERTIFICATE-----/);

      assert.match(ok(await runKms(["identity", cert]), "identity CERT"), new RegExp(`^Identity\\s+${made.identity}$`, "m"));
      assert.equal(json(await runKms(["identity", cert, "--json"]), "identity CERT --json").identity, made.identity);

      // The files are a working TLS client pair: the server knows the caller (and refuses it: it is not the admin).
      const reply = await postNative(server, "", framesOf([{ id: 104, request: "ListRequest", message: {} }]), {
        credentials: { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") },
      });
      assertErrReply(reply, 403, "access denied: insufficient permissions");

      // Two new keys differ.
      const again = json(await runKms(["identity", "new", "--json"]), "identity new again");
      assert.notEqual(again.identity, made.identity);
    });

    it("identity of a missing or non-certificate file is a clear error", async () => {
      fails(await runKms(["identity", path.join(work, "nothing.pem")]), "nonzero", /no such file/, "missing file");
      const junk = path.join(work, "junk.pem");
      writeFileSync(junk, "hello");
      fails(await runKms(["identity", junk]), "nonzero", /is not a PEM certificate/, "junk file");
    });

    it("hsm new and --soft-hsm print fresh software HSM keys", async () => {
      const runs = await Promise.all([runKms(["hsm", "new"]), runKms(["hsm", "new"]), runKms(["--soft-hsm"]), runKms(["hsm", "new", "--json"])]);
      const keys = runs.slice(0, 3).map((r, i) => ok(r, `hsm run ${i}`).trim());
      keys.push(json(runs[3], "hsm new --json").hsm_key);
      for (const k of keys) {
        assert.ok(HSM_KEY_TEXT.test(k), "output is hsm:aes256:<canonical base64 of 32 bytes>");
        assert.equal(Buffer.from(k.slice("hsm:aes256:".length), "base64").length, 32);
      }
      assert.equal(new Set(keys).size, keys.length, "every key is fresh");
      fails(await runKms(["hsm", "old"]), 2, /use 'kms hsm new'/, "kms hsm old");
    });

    it("a key from --soft-hsm is a well-formed HSM key, but not one of this cluster's: identity --hsm refuses it, naming the mismatch", async () => {
      // The admin API key derives from the cluster's credentials, sealed in root.seal for the cluster's HSM keys only (docs/recovery.md).
      const key = ok(await runKms(["--soft-hsm"]), "--soft-hsm").trim();
      const r = await runKms(["identity", "--hsm", server.dir, "--json"], { MINIO_KMS_HSM_KEY: key });
      assert.equal(r.code, 1, r.stderr);
      assert.match(JSON.parse(r.stderr).error.message, /the HSM key does not match this data directory/);
      assert.equal(r.stdout, "", "no admin key is printed");
    });
  });

  describe("server errors reach the user", () => {
    it("a server error exits 1 with the server's message and status on stderr", async () => {
      ok(await kms(["add-enclave", "cli-errors"]), "add-enclave");
      fails(await kms(["stat-key", "-e", "cli-errors", "nope"]), 1, /^kms: key does not exist \(HTTP 404\)$/m, "stat-key missing");
      fails(await kms(["stat-enclave", "nope-enclave"]), 1, /^kms: enclave does not exist \(HTTP 404\)$/m, "stat-enclave missing");
      fails(await kms(["ls-key", "-e", "nope-enclave"]), 1, /enclave does not exist/, "ls-key in missing enclave");
    });

    it("a non-admin API key is refused with 403", async () => {
      const made = json(await runKms(["identity", "new", "--json"]), "identity new");
      const r = await kms(["ls-enclave"], { MINIO_KMS_API_KEY: made.api_key });
      fails(r, 1, /access denied: insufficient permissions \(HTTP 403\)/, "ls-enclave as a stranger");
    });
  });

  it("raw check: the CLI's writes are visible to other clients", async () => {
    // Guards against a CLI that only pretends: the enclave made above is there for a raw request too.
    const reply = await rawRequest(server, {
      method: "POST",
      path: "/v1/kms",
      body: framesOf([{ id: 103, request: "EnclaveStatusRequest", message: { name: "cli-enc-a" } }]),
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal(reply.status, 200);
  });

  it("the server survived every CLI run and logged no internal error", () => {
    assertServerHealthy(server);
  });
});
