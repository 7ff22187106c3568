/**
 * Destructive commands (issue 18): rm-enclave, rm-key, rm, rm-identity,
 * rm-policy and edit. Without a terminal they refuse unless --force is given
 * and change nothing; on a real pseudo-terminal they show what will go,
 * ask, and obey the answer: "n" changes nothing, "y" goes ahead.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { expectOk, oneShotClient, redact } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, type RunResult, runKms, startServer, tempDir } from "../helpers/kms.ts";
import { ptyAvailable, runOnPty } from "../helpers/pty.ts";
import { kmsCommand } from "../helpers/kms.ts";

let server: KmsServer;
let env: Record<string, string>;
const PROMPT = /Continue\? \[y\/N\] $/;

const kms = (args: string[]): Promise<RunResult> => runKms(args, env, { timeoutMs: 60_000 });
/** Runs kms on a pseudo-terminal, answering the confirmation prompt with `answer`. */
const onTerminal = (args: string[], answer: string) => runOnPty([...kmsCommand(), ...args], env, [{ when: PROMPT, type: `${answer}\n` }]);

/** Asserts a refusal without a terminal: exit 2, says what it would do and to pass --force, nothing on stdout. */
function refused(r: RunResult, what: RegExp, label: string): void {
  assert.equal(r.code, 2, `${label}: exit ${r.code}, stderr: ${r.stderr}`);
  assert.match(r.stderr, /^kms: not confirmed: this /, label);
  assert.match(r.stderr, what, label);
  assert.match(r.stderr, /pass --force to confirm \(there is no terminal to ask on\)/, label);
  assert.equal(r.stdout, "", `${label}: stdout ${redact(r.stdout)}`);
}

/** Asserts a prompt shown on the terminal with `shows` in it, and the outcome of the answer. */
function asked(r: RunResult, shows: RegExp[], outcome: "cancelled" | RegExp, label: string): void {
  // What a person sees: Bun colours errors on a terminal; the terminal ends lines with \r\n.
  const screen = r.stdout.replace(/\x1b\[[0-9;]*m/g, "").replace(/\r\n/g, "\n");
  assert.match(screen, /^This .*\n(  .*\n)*Continue\? \[y\/N\] /m, `${label}: the prompt, got: ${redact(screen)}`);
  for (const s of shows) assert.match(screen, s, `${label}: shows ${s}`);
  if (outcome === "cancelled") {
    assert.equal(r.code, 1, `${label}: exit`);
    assert.match(screen, /^kms: cancelled: nothing was changed$/m, label);
  } else {
    assert.match(screen, outcome, `${label}: outcome, got: ${redact(screen)}`);
  }
}

describe("destructive commands ask on a terminal and need --force without one", { skip: !ptyAvailable() && "no `script` (util-linux) for a pseudo-terminal" }, () => {
  const E = "doomed";
  let user: string;
  before(async () => {
    server = await startServer();
    env = { ...server.env(), MINIO_KMS_ENCLAVE: "" };
    const c = oneShotClient(server);
    await c.createEnclave(E);
    await c.createKey(E, "k");
    await c.createKey(E, "k", "", true);
    await c.createKey(E, "k", "", true); // v1..v3
    await c.createKey(E, "other");
    user = parseApiKey(newApiKey()).identity;
    const policy = path.join(tempDir("kms-confirm-"), "p.yml");
    writeFileSync(policy, "allow:\n  KEY:LIST: '*'\n");
    expectOk(await kms(["add-policy", "-e", E, "p", policy]), "add-policy");
    expectOk(await kms(["add-identity", "-e", E, "--policy", "p", user]), "add-identity");
  });
  after(cleanup);

  it("without a terminal, each refuses without --force and changes nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["rm-enclave", E], /deletes enclave doomed with every key, identity and policy in it/],
      [["rm-key", "-e", E, "--all", "k"], /deletes key k in enclave doomed with all its versions/],
      [["rm-key", "-e", E, "--version", "1", "k"], /deletes version 1 of key k in enclave doomed/],
      [["rm-key", "-e", E, "k"], /deletes version 3 \(the latest\) of key k in enclave doomed/],
      [["rm-identity", "-e", E, user], new RegExp(`removes identity ${user} from enclave doomed`)],
      [["rm-policy", "-e", E, "p"], /deletes policy p in enclave doomed/],
      [["rm", server.address], new RegExp(`removes node ${server.address} from the cluster`)],
      [["edit", "--remove", "3"], /drops node\(s\) 3 from the membership/],
    ];
    const runs = await Promise.all(cases.map(([args]) => kms(args)));
    runs.forEach((r, i) => refused(r, cases[i][1], `kms ${cases[i][0].join(" ")}`));
    const c = oneShotClient(server);
    assert.equal((await c.keyStatus(E, "k", 1)).version, 1, "nothing was deleted");
    assert.equal((await c.keyStatus(E, "k")).version, 3);
    assert.equal((await server.client().identityStatus(E, user)).policy, "p");
    assert.equal(Object.keys((await c.clusterStatus()).nodes_up as object).length, 1);
  });

  it("rm-key on a terminal: shows the versions that go, 'n' keeps them, 'y' deletes", async () => {
    const c = oneShotClient(server);
    asked(await onTerminal(["rm-key", "-e", E, "--version", "1", "k"], "n"), [/1 version\(s\) go: v1; 2 remain/, /can no longer be decrypted/], "cancelled", "rm-key --version 1, n");
    assert.equal((await c.keyStatus(E, "k", 1)).version, 1, "v1 is still there");
    asked(await onTerminal(["rm-key", "-e", E, "--version", "1", "k"], "y"), [], /^Deleted k v1 in enclave doomed; v3 is the latest$/m, "rm-key --version 1, y");
    await assert.rejects(c.keyStatus(E, "k", 1), /key does not exist/);
    asked(await onTerminal(["rm-key", "-e", E, "--all", "k"], "no"), [/2 version\(s\) go: v2, v3; 0 remain/], "cancelled", "rm-key --all, no");
    assert.equal((await c.keyStatus(E, "k")).version, 3);
  });

  it("rm-identity and rm-policy on a terminal: show what goes with them and obey", async () => {
    asked(await onTerminal(["rm-policy", "-e", E, "p"], "n"), [new RegExp(`1 identity\\(ies\\) hold it and lose it: ${user}`)], "cancelled", "rm-policy, n");
    asked(await onTerminal(["rm-identity", "-e", E, user], ""), [/privilege User, policy p/, /0 service account\(s\) go with it/], "cancelled", "rm-identity, empty answer");
    assert.equal((await server.client().identityStatus(E, user)).policy, "p", "both are still there");
    asked(await onTerminal(["rm-policy", "-e", E, "p"], "y"), [], /^Deleted policy p in enclave doomed$/m, "rm-policy, y");
    asked(await onTerminal(["rm-identity", "-e", E, user], "YES"), [], new RegExp(`^Removed identity ${user} from enclave doomed$`, "m"), "rm-identity, YES");
    await assert.rejects(server.client().identityStatus(E, user), /identity does not exist/);
  });

  it("rm and edit on a terminal: 'n' sends nothing; 'y' sends the request (the server's answer shows)", async () => {
    const bogus = "127.0.0.1:1";
    asked(await onTerminal(["rm", bogus], "n"), [/1 node\(s\) now; 1 remain after it/], "cancelled", "rm, n");
    asked(await onTerminal(["rm", bogus], "y"), [], /^kms: 127\.0\.0\.1:1 is not a member of this cluster \(HTTP 404\)$/m, "rm, y");
    asked(await onTerminal(["edit", "--remove", "0"], "n"), [new RegExp(`node 0: ${server.address.replace(/\./g, "\\.")} \\(it is UP: dropping a live node is wrong\\)`)], "cancelled", "edit, n");
    assert.equal(Object.keys((await oneShotClient(server).clusterStatus()).nodes_up as object).length, 1, "the node is still a member");
  });

  it("rm-enclave on a terminal: counts what goes with it; 'n' keeps it, 'y' deletes it; --force needs no terminal", async () => {
    asked(await onTerminal(["rm-enclave", E], "n"), [/2 key\(s\), 0 identity\(ies\) and 0 polic\(ies\) go with it/], "cancelled", "rm-enclave, n");
    assert.equal((await oneShotClient(server).enclaveStatus(E)).name, E);
    asked(await onTerminal(["rm-enclave", E], "y"), [], /^Deleted enclave doomed$/m, "rm-enclave, y");
    await assert.rejects(oneShotClient(server).enclaveStatus(E), /enclave does not exist/);
    await oneShotClient(server).createEnclave("again");
    assert.equal(expectOk(await kms(["rm-enclave", "--force", "again"]), "rm-enclave --force").trim(), "Deleted enclave again");
  });
});
