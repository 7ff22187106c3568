/**
 * The operator's first hour (issue 18), against real server processes: bad
 * flags get one line naming the flag; a failed start leaves no half-made data
 * directory; rm-key says exactly what it deleted; help texts are right; the
 * HSM key is kept safe (--out, MINIO_KMS_HSM_KEY_FILE, the warning, `hsm
 * check`); inputs are checked where people err; errors point to the cause;
 * secrets stay off the command line; certificates and KES forms from the CLI.
 */
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { COMMANDS } from "../../main.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { expectJson, expectOk, oneShotClient, redact } from "../helpers/e2e.ts";
import { until } from "../helpers/cluster.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";

let server: KmsServer;
let env: Record<string, string>;
let work: string;
const E = "ops";

const kms = (args: string[], extra: Record<string, string> = {}, input?: string | Uint8Array) =>
  runKms(args, { ...env, ...extra }, { input, timeoutMs: 60_000 });
const ok = expectOk;
const json = expectJson;

/** A failed run: exit code, one `kms:` line matching `message` first on stderr, no stack trace, nothing on stdout. */
function fails(r: RunResult, code: number, message: RegExp, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}; stderr: ${redact(r.stderr)}`);
  assert.match(r.stderr.split("\n")[0], message, `${what}: first line of stderr`);
  assert.equal((r.stderr.match(/^kms:/gm) ?? []).length, 1, `${what}: one kms: line, got: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /kms: kms|\n\s+at |\bBun v\d|^\s*\d+ \|/m, `${what}: no doubled prefix, stack trace or source`);
  assert.equal(r.stdout, "", `${what}: stdout`);
}

/** Every file under dir (relative paths), to prove a command left it alone. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

describe("kms CLI: the operator's first hour", () => {
  before(async () => {
    work = tempDir("kms-ops-");
    server = await startServer();
    env = { ...server.env(), MINIO_KMS_ENCLAVE: "" };
    const c = oneShotClient(server);
    await c.createEnclave(E);
    await c.createKey(E, "key-1");
  });
  after(cleanup);

  describe("bugs found", () => {
    it("1: bad --addr values and other server flags get one line naming the flag, and touch nothing", async () => {
      const dir = path.join(work, "never");
      const hsm = { MINIO_KMS_HSM_KEY: SoftHsm.generate() };
      const cases: Array<[string[], RegExp]> = [
        [["--addr", "7374"], /^kms: --addr: invalid address '7374': expected \[HOST\]:PORT, e\.g\. :7373 or 127\.0\.0\.1:7373 \(did you mean :7374\?\)$/],
        [["--addr", "127.0.0.1:99999"], /^kms: --addr: invalid address '127\.0\.0\.1:99999': the port must be 0 to 65535, e\.g\. :7373 or 127\.0\.0\.1:7373$/],
        [["--addr", "localhost"], /^kms: --addr: invalid address 'localhost'/],
        [["--advertise", "10.0.0.1"], /^kms: --advertise: invalid address '10\.0\.0\.1'/],
        [["--advertise", ":7373"], /^kms: --advertise :7373: other nodes need a host to dial/],
        [["--tls-cert", path.join(work, "none.crt"), "--tls-key", path.join(work, "none.key")], /^kms: --tls-cert .*none\.crt: cannot read it \(ENOENT\)$/],
        [["--tls-cert", "x.crt"], /^kms: --tls-cert and --tls-key go together$/],
        [["--kes-enclave", "bad/name"], /^kms: --kes-enclave: invalid name/],
      ];
      const runs = await Promise.all(cases.map(([flags]) => runKms(["server", ...flags, dir], hsm, { timeoutMs: 60_000 })));
      runs.forEach((r, i) => fails(r, 2, cases[i][1], `kms server ${cases[i][0].join(" ")}`));
      const [dev, edge] = await Promise.all([
        runKms(["dev", "--addr", "7374", path.join(work, "dev", "kms0")], {}, { timeoutMs: 60_000 }),
        runKms(["edge", "--config", path.join(work, "none.yml"), "--addr", "1.2.3.4:70000"], {}, { timeoutMs: 60_000 }),
      ]);
      fails(dev, 2, /^kms: --addr: invalid address '7374'/, "kms dev --addr 7374");
      fails(edge, 2, /^kms: --addr: invalid address '1\.2\.3\.4:70000': the port must be 0 to 65535, e\.g\. :7373/, "kms edge --addr");
      assert.ok(!existsSync(dir) && !existsSync(path.join(work, "dev")), "no directory was created");
    });

    it("2: a port in use leaves no half-made data directory; the next start creates it and says so", async () => {
      const busy = net.createServer();
      await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
      const port = (busy.address() as net.AddressInfo).port;
      const hsmKey = SoftHsm.generate();
      const missing = path.join(work, "port-missing");
      const empty = path.join(work, "port-empty");
      mkdirSync(empty);
      try {
        const runs = await Promise.all([missing, empty].map((d) => runKms(["server", "--addr", `127.0.0.1:${port}`, d], { MINIO_KMS_HSM_KEY: hsmKey }, { timeoutMs: 60_000 })));
        for (const r of runs) fails(r, 1, new RegExp(`^kms: --addr 127\\.0\\.0\\.1:${port}: the address is already in use`), "start on a busy port");
      } finally {
        await new Promise<void>((resolve) => busy.close(() => resolve()));
      }
      assert.ok(!existsSync(missing), "the directory it would have created is gone");
      assert.deepEqual(tree(empty), [], "the empty directory is empty again");
      // The next start is a first start: a new cluster, with the one-time HSM key warning.
      const s = await startServer({ dir: missing, hsmKey });
      await until(() => /kms hsm check/.test(s.output()) || "no warning yet", "the HSM key warning");
      assert.match(s.output(), /^Data directory\s+\S+ \(new single-node cluster\)$/m);
      assert.match(s.output(), /^IMPORTANT: .* can only ever be read with the HSM key it was just created with\.$/m);
      assert.equal((await s.stop()), 0);
    });

    it("5: rm-key says exactly what it deleted", async () => {
      const c = oneShotClient(server);
      await c.createKey(E, "five");
      await c.createKey(E, "five", "", true);
      assert.equal(ok(await kms(["rm-key", "--force", "-e", E, "--version", "1", "five"]), "rm-key --version 1").trim(), `Deleted five v1 in enclave ${E}; v2 is the latest`);
      assert.equal(ok(await kms(["rm-key", "--force", "-e", E, "five"]), "rm-key (latest)").trim(), `Deleted five v2 in enclave ${E}; it was the last version: the key is gone`);
      await c.createKey(E, "five");
      assert.equal(ok(await kms(["rm-key", "--force", "-e", E, "--all", "five"]), "rm-key --all").trim(), `Deleted key five in enclave ${E} (all versions)`);
      fails(await kms(["rm-key", "--force", "-e", E, "--all", "--version", "2", "five"]), 2, /^kms: --all and --version go separately/, "--all --version");
    });

    it("7: help texts: options before the environment, the right words for each command", () => {
      // The help texts are data: checked in-process, for every command kms has.
      for (const c of COMMANDS) {
        const envAt = c.help.search(/^Environment/m);
        if (envAt >= 0) assert.doesNotMatch(c.help.slice(envAt), /^\s+-{1,2}[a-z]/m, `kms ${c.name} --help: no option after the Environment block`);
      }
      const help = (name: string) => COMMANDS.find((c) => c.name === name)!.help;
      assert.ok(help("keygen").indexOf("--length") < help("keygen").indexOf("Environment"), "keygen: --length among the options");
      assert.doesNotMatch(help("add-identity"), /Enclave of the key/);
      assert.doesNotMatch(help("mac"), /ciphertext/i);
      assert.match(help("add-policy"), /KEY:GENERATE/, "add-policy --help lists the command names");
    });
  });

  describe("never lose the HSM key", () => {
    it("hsm new --out writes a new 0600 file and never over an existing one", async () => {
      const file = path.join(work, "hsm.key");
      const out = ok(await runKms(["hsm", "new", "--out", file]), "hsm new --out");
      assert.match(out, /HSM key written to .*hsm\.key \(mode 0600\)/);
      assert.match(out, /export MINIO_KMS_HSM_KEY_FILE=/);
      assert.doesNotMatch(out, /hsm:aes256:/, "the key itself is not printed");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const key = readFileSync(file, "utf8").trim();
      SoftHsm.parse(key);
      fails(await runKms(["hsm", "new", "--out", file]), 1, /exists: not writing a new HSM key over it/, "hsm new --out over a file");
      assert.equal(readFileSync(file, "utf8").trim(), key, "the key file is unchanged");
    });

    it("MINIO_KMS_HSM_KEY_FILE starts a server; the warning comes once; hsm check proves which key unseals a directory", async () => {
      const file = path.join(work, "hsm-file.key");
      ok(await runKms(["hsm", "new", "--out", file]), "hsm new --out");
      const hsmKey = readFileSync(file, "utf8").trim();
      const dir = path.join(work, "from-file");
      const first = await startServer({ dir, hsmKey, hsmKeyFile: file });
      await until(() => /kms hsm check/.test(first.output()) || "no warning yet", "the HSM key warning");
      assert.match(first.output(), /IMPORTANT: .*from-file can only ever be read with the HSM key/);
      assert.match(first.output(), /kms hsm check .*from-file/);
      assert.equal(await first.stop(), 0);
      const second = await startServer({ dir, hsmKey, hsmKeyFile: file });
      assert.doesNotMatch(second.output(), /IMPORTANT/, "only when the directory is created");
      assert.equal(await second.stop(), 0);

      const before = tree(dir);
      const right = await runKms(["hsm", "check", dir], { MINIO_KMS_HSM_KEY: "", MINIO_KMS_HSM_KEY_FILE: file });
      assert.match(ok(right, "hsm check with the right key"), /^HSM key\s+unseals it: this is its HSM key$/m);
      fails(await runKms(["hsm", "check", dir], { MINIO_KMS_HSM_KEY: SoftHsm.generate() }), 1,
        /^kms: the HSM key does not match this data directory \(.*\): this is not its HSM key$/, "hsm check with another key");
      fails(await runKms(["hsm", "check", path.join(work, "nowhere")], { MINIO_KMS_HSM_KEY: hsmKey }), 1, /is not a kms data directory/, "hsm check of nothing");
      fails(await runKms(["hsm", "check", dir], { MINIO_KMS_HSM_KEY: hsmKey, MINIO_KMS_HSM_KEY_FILE: file }), 2,
        /^kms: both MINIO_KMS_HSM_KEY and MINIO_KMS_HSM_KEY_FILE are set/, "both set");
      assert.deepEqual(tree(dir), before, "hsm check only reads");
      // identity --hsm reads the file too; a key file others can read is warned about.
      chmodSync(file, 0o644);
      const id = await runKms(["identity", "--hsm", dir, "--json"], { MINIO_KMS_HSM_KEY: "", MINIO_KMS_HSM_KEY_FILE: file });
      assert.equal(json(id, "identity --hsm from a file").identity, parseApiKey(json(id, "").api_key).identity);
      assert.match(id.stderr, /warning: .*can be read by other users: chmod 600/);
    });
  });

  describe("inputs are checked where people make mistakes", () => {
    it("enum values case-insensitively: --privilege admin, --type chacha20", async () => {
      const id = parseApiKey(newApiKey()).identity;
      ok(await kms(["add-identity", "-e", E, "--privilege", "admin", id]), "--privilege admin");
      assert.equal((await server.client().identityStatus(E, id)).privilege, 2, "Admin");
      assert.equal(json(await kms(["add-key", "-e", E, "--type", "chacha20", "cc", "--json"]), "--type chacha20").type, "ChaCha20");
      fails(await kms(["add-key", "-e", E, "--type", "aes128", "x"]), 2, /^kms: --type must be AES256 or ChaCha20, got 'aes128'$/, "--type aes128");
    });

    it("kms ls-commands lists the policy command names, from the server's own list", async () => {
      const rows = json(await runKms(["ls-commands", "--json"]), "ls-commands --json") as Array<{ name: string; grantable: boolean; allows: string }>;
      const names = rows.map((r) => r.name);
      for (const n of ["KEY:CREATE", "KEY:GENERATE", "KEY:DECRYPT", "POLICY:ASSIGN", "IDENTITY:CREATE"]) assert.ok(names.includes(n), n);
      assert.equal(rows.find((r) => r.name === "ENCLAVE:CREATE")!.grantable, false);
      assert.ok(rows.every((r) => r.allows), "every command says what it allows");
      assert.match(ok(await runKms(["ls-commands"]), "ls-commands"), /^KEY:MAC\s+yes\s+compute a MAC \(mac\)$/m);
    });

    it("a typo in a command or flag suggests the closest instead of the whole usage", async () => {
      fails(await kms(["lss"]), 2, /^kms: unknown command 'lss'; did you mean 'ls'\? \('kms --help' lists the commands\)$/, "kms lss");
      fails(await kms(["stat-kye", "-e", E, "k"]), 2, /did you mean 'stat-key'\?/, "kms stat-kye");
      fails(await kms(["add-key", "-e", E, "--verison", "k"]), 2, /^kms: add-key: Unknown option '--verison'; did you mean '--version'\? \(run 'kms add-key --help' for its usage\)$/, "--verison");
      const r = await kms(["frobnicate"]);
      assert.ok(r.stderr.split("\n").length <= 2, "one line, not the whole usage");
    });
  });

  describe("errors that point to the cause", () => {
    it("global flags anywhere: kms -k ls, kms --ca FILE ls, kms --json CMD", async () => {
      assert.match(ok(await kms(["-k", "ls"], { KMS_CA: "" }), "kms -k ls"), /Leader/);
      assert.match(ok(await kms(["--ca", server.caFile, "ls"], { KMS_CA: "" }), "kms --ca FILE ls"), /Leader/);
      assert.match(ok(await kms(["--insecure", "--json", "ls"], { KMS_CA: "" }), "kms --insecure --json ls"), /"nodes_up"/);
      fails(await kms(["--ca"]), 2, /^kms: --ca needs a value/, "kms --ca");
    });

    it("a TLS failure suggests --ca, KMS_CA and -k", async () => {
      const r = await kms(["ls"], { KMS_CA: "" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kms: cannot reach the server: .*$/m);
      assert.match(r.stderr, /pass --ca FILE or set KMS_CA=FILE/);
      assert.match(r.stderr, /-k skips verification/);
    });

    it("a 403 tells the caller its own identity, and the same whether or not what it asked for exists", async () => {
      const stranger = newApiKey();
      const id = parseApiKey(stranger).identity;
      const hex = Buffer.from(id.slice(3), "base64url").toString("hex");
      const [there, absent] = await Promise.all([
        kms(["stat-key", "-e", E, "key-1"], { MINIO_KMS_API_KEY: stranger }),
        kms(["stat-key", "-e", "no-such-enclave", "no-such-key"], { MINIO_KMS_API_KEY: stranger }),
      ]);
      assert.equal(there.code, 1);
      assert.match(there.stderr, /^kms: access denied: insufficient permissions \(HTTP 403\)$/m);
      assert.ok(there.stderr.includes(`you are ${id} (KES identity ${hex})`), there.stderr);
      assert.match(there.stderr, new RegExp(`kms add-identity --enclave ${E} --policy POLICY ${id}`));
      const blind = (r: RunResult, enclave: string) => r.stderr.replaceAll(enclave, "ENCLAVE");
      assert.equal(blind(there, E), blind(absent, "no-such-enclave"), "the answer does not depend on what exists");
    });

    it("a decrypt failure says what may be wrong; a wrong key name is just 'does not exist'", async () => {
      const ct = ok(await kms(["encrypt", "-e", E, "--context", "a", "key-1", "text"]), "encrypt").trim();
      const r = await kms(["decrypt", "-e", E, "--context", "b", "key-1", ct]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kms: invalid ciphertext \(HTTP 400\)$/m);
      assert.match(r.stderr, /made by another key .* the --context differs .* the key version that made it was deleted, or it is not a ciphertext/s);
    });

    it("--json errors are JSON on stderr; JSON timestamps are RFC 3339", async () => {
      const r = await kms(["stat-key", "-e", E, "nope", "--json"]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.deepEqual(JSON.parse(r.stderr), { error: { message: "key does not exist (HTTP 404)", status: 404 } });
      const usage = await kms(["--json", "add-key"]);
      assert.equal(usage.code, 2);
      assert.match(JSON.parse(usage.stderr).error.message, /add-key: expected 1 argument/);
      const st = json(await kms(["stat-key", "-e", E, "key-1", "--json"]), "stat-key --json");
      assert.match(st.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it("internal protocol names stay out of messages that are not about policies", async () => {
      const r = await kms(["add-key", "-e", E, "bad/name"]);
      assert.equal(r.code, 1);
      assert.doesNotMatch(r.stderr, /[A-Z]+:[A-Z]+|Request\b/, r.stderr);
      assert.match(r.stderr, /^kms: invalid request: invalid name/);
    });
  });

  describe("secrets off the command line", () => {
    it("encrypt and mac read from standard input (-) or --in FILE; decrypt prints text, or base64 for binary, or writes --output", async () => {
      const secret = "the plaintext, from stdin";
      const ct = ok(await kms(["encrypt", "-e", E, "key-1", "-"], {}, secret), "encrypt -").trim();
      assert.equal(ok(await kms(["decrypt", "-e", E, "key-1", "-"], {}, ct), "decrypt -"), `${secret}\n`);
      const bin = new Uint8Array(randomBytes(48));
      const binFile = path.join(work, "secret.bin");
      writeFileSync(binFile, bin);
      const binCt = ok(await kms(["encrypt", "-e", E, "--in", binFile, "key-1"]), "encrypt --in").trim();
      const printed = await kms(["decrypt", "-e", E, "key-1", binCt]);
      assert.equal(Buffer.from(ok(printed, "decrypt binary").trim(), "base64").toString("hex"), Buffer.from(bin).toString("hex"));
      assert.match(printed.stderr, /the plaintext is binary, printed as base64 \(--output FILE writes the raw bytes\)/);
      const outFile = path.join(work, "plain.bin");
      assert.equal(ok(await kms(["decrypt", "-e", E, "key-1", "--output", outFile, binCt]), "decrypt --output"), "");
      assert.deepEqual(new Uint8Array(readFileSync(outFile)), bin);
      assert.equal(statSync(outFile).mode & 0o777, 0o600);
      const [macArg, macStdin, macFile] = await Promise.all([
        kms(["mac", "-e", E, "key-1", "message"]), kms(["mac", "-e", E, "key-1", "-"], {}, "message"),
        (writeFileSync(path.join(work, "m.txt"), "message"), kms(["mac", "-e", E, "--in", path.join(work, "m.txt"), "key-1"])),
      ]);
      assert.equal(ok(macStdin, "mac -"), ok(macArg, "mac MESSAGE"));
      assert.equal(ok(macFile, "mac --in"), ok(macArg, "mac MESSAGE"));
      fails(await kms(["encrypt", "-e", E, "key-1"]), 2, /^kms: no the plaintext: pass it as an argument, '-' to read standard input, or --in FILE$/, "encrypt without input");
      fails(await kms(["encrypt", "-e", E, "key-1", "x", "--in", binFile]), 2, /either on the command line or with --in/, "encrypt with both");
    });
  });

  describe("edge and KES setup from the CLI alone", () => {
    it("identity new prints the k1: and kes:v1: forms of one key and both forms of its identity", async () => {
      const out = json(await runKms(["identity", "new", "--json"]), "identity new --json");
      assert.match(out.kes_api_key, /^kes:v1:[A-Za-z0-9+/]{43}[A-Za-z0-9+/=]$/);
      assert.equal(parseApiKey(out.kes_api_key).identity, out.identity, "the kes:v1: key is the same key");
      assert.equal(out.kes_identity, Buffer.from(out.identity.slice(3), "base64url").toString("hex"));
      const human = ok(await kms(["identity"], { MINIO_KMS_API_KEY: out.kes_api_key }), "identity of a kes:v1: key");
      assert.match(human, new RegExp(`^KES identity\\s+${out.kes_identity}$`, "m"));
    });

    it("identity new --server writes a TLS server certificate for the given names that a client trusts", async () => {
      const cert = path.join(work, "server.crt"), key = path.join(work, "server.key");
      const out = ok(await runKms(["identity", "new", "--server", "--cert", cert, "--key", key, "--san", "127.0.0.1,kms.example", "--san", "localhost"]), "identity new --server");
      assert.match(out, /^Hosts\s+127\.0\.0\.1, kms\.example, localhost$/m);
      assert.equal(statSync(key).mode & 0o777, 0o600);
      const x = new X509Certificate(readFileSync(cert));
      assert.match(x.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
      assert.match(x.subjectAltName ?? "", /DNS:kms\.example/);
      assert.ok(x.checkHost("localhost"));
      // A real TLS handshake: a client that trusts only this certificate accepts it for 127.0.0.1.
      const srv = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (s) => s.end("hi"));
      await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
      try {
        const got = await new Promise<string>((resolve, reject) => {
          const c = tls.connect({ host: "127.0.0.1", port: (srv.address() as net.AddressInfo).port, ca: readFileSync(cert) }, () => c.on("data", (d) => resolve(String(d))));
          c.on("error", reject);
        });
        assert.equal(got, "hi");
      } finally {
        srv.close();
      }
      fails(await runKms(["identity", "new", "--server", "--cert", cert, "--key", key]), 1, /server\.key exists: not writing a new private key over it/, "no overwrite");
      fails(await runKms(["identity", "new", "--server", "--cert", cert]), 2, /needs --cert FILE and --key FILE/, "--server without --key");
    });
  });
});
