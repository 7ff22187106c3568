/**
 * The access matrix over one real server: every native command × caller
 * privilege (SysAdmin identity, Admin, User with an allow, User whose allow a
 * deny overrides, User without a matching allow, User without a policy, a
 * stranger) × (own enclave, other enclave, an enclave that does not exist),
 * compared with the reference model of tests/helpers/access-model.ts. Then
 * revocation, privilege escalation, 403-before-404, and listing filters.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { KmsClientError } from "../../lib/client/client.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import {
  ALL_COMMANDS, AccessModel, DENIED, OK, DENIED_MESSAGE, isWrite, LIST_COMMANDS, listedNames, type ModelPolicy, type Op, type Outcome,
  type Privilege, type Rules, sameOutcome, send, show,
} from "../helpers/access-model.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const OWN = "own";
const OTHER = "other";
const MISSING = "missing";
const COLUMNS = [
  { name: "own enclave", enclave: OWN },
  { name: "other enclave", enclave: OTHER },
  { name: "missing enclave", enclave: MISSING },
] as const;

/** An API key with its identity and a client. */
interface Actor {
  readonly name: string;
  readonly apiKey: string;
  readonly identity: string;
  client: KmsClient;
}

let server: KmsServer;
let model: AccessModel;
let hsm: Actor;
const actor = (name: string, apiKey = newApiKey()): Actor => ({ name, apiKey, identity: parseApiKey(apiKey).identity, client: undefined as unknown as KmsClient });

// Callers of the matrix, all living in OWN (the stranger nowhere).
const sys = actor("SysAdmin identity");
const adm = actor("Admin");
const allowU = actor("User with allow");
const denyU = actor("User with deny overriding allow");
const noneU = actor("User without matching allow");
const nopolU = actor("User without policy");
const stranger = actor("unknown identity");
const CALLERS = [sys, adm, allowU, denyU, noneU, nopolU, stranger];

// Targets, present in OWN and OTHER.
const idStatus = actor("target").identity;
const idNew = actor("new").identity;
const idDel = actor("victim").identity;
const idAssign = actor("assignee").identity;
const idMissing = actor("missing").identity;
const idAdminTarget = actor("admin target").identity;
const idSysTarget = actor("sysadmin target").identity;
const TARGET_IDS = [idStatus, idNew, idDel, idAssign, idMissing, idAdminTarget, idSysTarget];

const everything = (patterns: string[]): Rules => Object.fromEntries(ALL_COMMANDS.map((c) => [c, [...patterns]]));
const POLICIES: Record<string, ModelPolicy> = {
  "p-allow": { allow: everything(["*"]), deny: {} },
  "p-deny": { allow: everything(["*"]), deny: everything(["t-*", ...TARGET_IDS]) },
  "p-none": { allow: { "KEY:STATUS": ["nomatch-*"] }, deny: {} },
  "t-pol": { allow: { "KEY:STATUS": ["t-*"] }, deny: {} },
  "t-delpol": { allow: { "KEY:MAC": ["*"] }, deny: {} },
};
const ciphertexts = new Map<string, Uint8Array>();

/** Sends `op` as the HSM admin and applies it to the model, whatever either says (keeps both in step). */
async function force(op: Op): Promise<Outcome> {
  model.apply(hsm.identity, op);
  return (await send(hsm.client, [op])).outcome;
}

/** Creates an enclave's fixtures (again): keys, policies, target identities, and in OWN the callers. */
async function setupEnclave(e: string): Promise<void> {
  await force({ command: "ENCLAVE:CREATE", enclave: "", name: e });
  for (const k of ["t-key", "t-del", "other-key"]) await force({ command: "KEY:CREATE", enclave: e, name: k });
  for (const [name, policy] of Object.entries(POLICIES)) await force({ command: "POLICY:CREATE", enclave: e, name, policy });
  const ids: Array<[string, Privilege, string]> = [
    [idStatus, "User", ""], [idDel, "User", ""], [idAssign, "User", ""], [idAdminTarget, "Admin", ""], [idSysTarget, "SysAdmin", ""],
  ];
  if (e === OWN) {
    ids.push([sys.identity, "SysAdmin", ""], [adm.identity, "Admin", ""], [allowU.identity, "User", "p-allow"],
      [denyU.identity, "User", "p-deny"], [noneU.identity, "User", "p-none"], [nopolU.identity, "User", ""]);
  }
  for (const [id, privilege, policy] of ids) {
    await force({ command: "IDENTITY:CREATE", enclave: e, name: id, privilege });
    if (policy) await force({ command: "POLICY:ASSIGN", enclave: e, name: policy, identity: id });
  }
  const r = await hsm.client.encrypt(e, "t-key", new TextEncoder().encode("hello"));
  ciphertexts.set(e, r.ciphertext as Uint8Array);
}

/** One row group of the matrix: how to build the op for an enclave column, and how to undo what it consumed. */
interface Case {
  readonly label: string;
  readonly op: (e: string) => Op;
  readonly restore?: (e: string) => Promise<unknown>;
}

const k = (command: string, name: string) => (e: string): Op => ({ command, enclave: e, name });
const sysOp = (command: string) => (e: string): Op => ({ command, enclave: "", name: e });

const CASES: Case[] = [
  { label: "CLUSTER:STATUS", op: () => ({ command: "CLUSTER:STATUS", enclave: "" }) },
  { label: "ENCLAVE:CREATE (the column's enclave)", op: sysOp("ENCLAVE:CREATE"), restore: (e) => e === MISSING ? force({ command: "ENCLAVE:DELETE", enclave: "", name: e }) : Promise.resolve() },
  { label: "ENCLAVE:DELETE (the column's enclave)", op: sysOp("ENCLAVE:DELETE"), restore: (e) => e === MISSING ? Promise.resolve() : setupEnclave(e) },
  { label: "ENCLAVE:STATUS (the column's enclave)", op: sysOp("ENCLAVE:STATUS") },
  { label: "ENCLAVE:LIST", op: () => ({ command: "ENCLAVE:LIST", enclave: "" }) },
  { label: "KEY:CREATE", op: k("KEY:CREATE", "t-new"), restore: (e) => force(k("KEY:DELETE", "t-new")(e)) },
  { label: "KEY:CREATE of an existing key", op: k("KEY:CREATE", "t-key") },
  { label: "KEY:DELETE", op: k("KEY:DELETE", "t-del"), restore: (e) => force(k("KEY:CREATE", "t-del")(e)) },
  { label: "KEY:DELETE of a missing key", op: k("KEY:DELETE", "t-missing") },
  { label: "KEY:IMPORT", op: k("KEY:IMPORT", "t-new"), restore: (e) => force(k("KEY:DELETE", "t-new")(e)) },
  { label: "KEY:STATUS", op: k("KEY:STATUS", "t-key") },
  { label: "KEY:STATUS of a missing key", op: k("KEY:STATUS", "t-missing") },
  { label: "KEY:ENCRYPT", op: k("KEY:ENCRYPT", "t-key") },
  { label: "KEY:DECRYPT", op: (e) => ({ command: "KEY:DECRYPT", enclave: e, name: "t-key", ciphertext: ciphertexts.get(e) ?? ciphertexts.get(OWN) }) },
  { label: "KEY:DECRYPT with a missing key", op: (e) => ({ command: "KEY:DECRYPT", enclave: e, name: "t-missing", ciphertext: ciphertexts.get(OWN) }) },
  { label: "KEY:GENERATE", op: k("KEY:GENERATE", "t-key") },
  { label: "KEY:GENERATE with a missing key", op: k("KEY:GENERATE", "t-missing") },
  { label: "KEY:LIST", op: (e) => ({ command: "KEY:LIST", enclave: e }) },
  { label: "KEY:MAC", op: k("KEY:MAC", "t-key") },
  {
    label: "POLICY:CREATE",
    op: (e) => ({ command: "POLICY:CREATE", enclave: e, name: "t-newpol", policy: { allow: { "KEY:STATUS": ["x-*"] }, deny: { "KEY:STATUS": ["x-1"] } } }),
    restore: (e) => force(k("POLICY:DELETE", "t-newpol")(e)),
  },
  { label: "POLICY:DELETE", op: k("POLICY:DELETE", "t-delpol"), restore: (e) => force({ command: "POLICY:CREATE", enclave: e, name: "t-delpol", policy: POLICIES["t-delpol"] }) },
  { label: "POLICY:DELETE of a missing policy", op: k("POLICY:DELETE", "t-missing") },
  { label: "POLICY:ASSIGN to a User", op: (e) => ({ command: "POLICY:ASSIGN", enclave: e, name: "t-pol", identity: idAssign }) },
  { label: "POLICY:ASSIGN to an Admin", op: (e) => ({ command: "POLICY:ASSIGN", enclave: e, name: "t-pol", identity: idAdminTarget }) },
  { label: "POLICY:ASSIGN to a SysAdmin", op: (e) => ({ command: "POLICY:ASSIGN", enclave: e, name: "t-pol", identity: idSysTarget }) },
  { label: "POLICY:ASSIGN of a missing policy", op: (e) => ({ command: "POLICY:ASSIGN", enclave: e, name: "t-missing", identity: idAssign }) },
  { label: "POLICY:ASSIGN to a missing identity", op: (e) => ({ command: "POLICY:ASSIGN", enclave: e, name: "t-pol", identity: idMissing }) },
  { label: "POLICY:GET", op: k("POLICY:GET", "t-pol") },
  { label: "POLICY:GET of a missing policy", op: k("POLICY:GET", "t-missing") },
  { label: "POLICY:STATUS", op: k("POLICY:STATUS", "t-pol") },
  { label: "POLICY:LIST", op: (e) => ({ command: "POLICY:LIST", enclave: e }) },
  { label: "IDENTITY:CREATE of a User", op: (e) => ({ command: "IDENTITY:CREATE", enclave: e, name: idNew, privilege: "" }), restore: (e) => force(k("IDENTITY:DELETE", idNew)(e)) },
  { label: "IDENTITY:CREATE of an Admin", op: (e) => ({ command: "IDENTITY:CREATE", enclave: e, name: idNew, privilege: "Admin" }), restore: (e) => force(k("IDENTITY:DELETE", idNew)(e)) },
  { label: "IDENTITY:CREATE of a SysAdmin", op: (e) => ({ command: "IDENTITY:CREATE", enclave: e, name: idNew, privilege: "SysAdmin" }), restore: (e) => force(k("IDENTITY:DELETE", idNew)(e)) },
  { label: "IDENTITY:CREATE of an existing identity", op: (e) => ({ command: "IDENTITY:CREATE", enclave: e, name: idStatus, privilege: "User" }) },
  { label: "IDENTITY:DELETE of a User", op: k("IDENTITY:DELETE", idDel), restore: (e) => force({ command: "IDENTITY:CREATE", enclave: e, name: idDel, privilege: "User" }) },
  {
    label: "IDENTITY:DELETE of an Admin",
    op: k("IDENTITY:DELETE", idAdminTarget),
    restore: (e) => force({ command: "IDENTITY:CREATE", enclave: e, name: idAdminTarget, privilege: "Admin" }),
  },
  {
    label: "IDENTITY:DELETE of a SysAdmin",
    op: k("IDENTITY:DELETE", idSysTarget),
    restore: (e) => force({ command: "IDENTITY:CREATE", enclave: e, name: idSysTarget, privilege: "SysAdmin" }),
  },
  { label: "IDENTITY:DELETE of a missing identity", op: k("IDENTITY:DELETE", idMissing) },
  { label: "IDENTITY:STATUS", op: k("IDENTITY:STATUS", idStatus) },
  { label: "IDENTITY:STATUS of a missing identity", op: k("IDENTITY:STATUS", idMissing) },
  { label: "IDENTITY:LIST", op: (e) => ({ command: "IDENTITY:LIST", enclave: e }) },
];

/** Runs one case for every caller × column; returns every disagreement with the model. */
async function runCase(c: Case): Promise<string[]> {
  const problems: string[] = [];
  for (const who of CALLERS) {
    for (const col of COLUMNS) {
      const op = c.op(col.enclave);
      const expected = model.check(who.identity, op);
      const expectedList = LIST_COMMANDS.has(op.command) ? model.list(who.identity, op.command, op.enclave) : undefined;
      const { outcome, messages } = await send(who.client, [op]);
      const where = `${c.label} by ${who.name} in ${col.name}`;
      if (!sameOutcome(outcome, expected)) problems.push(`${where}: server ${show(outcome)}, model ${show(expected)}`);
      else if (outcome.status === 200 && expectedList) {
        const got = listedNames(op.command, messages[0]).sort();
        if (JSON.stringify(got) !== JSON.stringify(expectedList)) problems.push(`${where}: listed ${JSON.stringify(got)}, model ${JSON.stringify(expectedList)}`);
      }
      if (outcome.status === 200 && op.command === "KEY:DECRYPT") {
        const plain = new TextDecoder().decode(messages[0].plaintext as Uint8Array);
        if (plain !== "hello") problems.push(`${where}: decrypted ${JSON.stringify(plain)}`);
      }
      if (outcome.status === 200 && op.command === "KEY:STATUS" && messages[0].name !== op.name) problems.push(`${where}: status of ${String(messages[0].name)}`);
      model.apply(who.identity, op);
      if (c.restore && isWrite(op.command) && (outcome.status === 200 || expected.status === 200)) await c.restore(col.enclave);
    }
  }
  return problems;
}

/** Asserts `p` fails with exactly status and message. */
async function rejects(p: Promise<unknown>, status: number, message: string, what: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof KmsClientError, `${what}: ${String(err)}`);
    assert.deepEqual({ status: err.status, message: err.message }, { status, message }, what);
    return;
  }
  assert.fail(`${what}: succeeded, expected ${status} ${message}`);
}
const denied = (p: Promise<unknown>, what: string) => rejects(p, 403, DENIED_MESSAGE, what);

before(async () => {
  server = await startServer();
  hsm = actor("HSM admin", server.apiKey);
  model = new AccessModel(hsm.identity);
  for (const a of [hsm, ...CALLERS]) a.client = server.client(a.apiKey);
});
after(cleanup);

describe("access matrix: command × privilege × enclave", () => {
  before(async () => {
    await setupEnclave(OWN);
    await setupEnclave(OTHER);
  });

  it("covers every command of the protocol's access model", () => {
    const covered = new Set(CASES.map((c) => c.op(OWN).command));
    assert.deepEqual([...covered].sort(), [...ALL_COMMANDS].sort());
  });

  for (const c of CASES) {
    it(c.label, async () => {
      const problems = await runCase(c);
      assert.equal(problems.length, 0, `${problems.length} disagreement(s) with the model:\n${problems.join("\n")}`);
    });
  }

  it("the server's state equals the model's after the matrix", async () => {
    for (const e of [OWN, OTHER]) {
      for (const command of ["KEY:LIST", "POLICY:LIST", "IDENTITY:LIST"]) {
        const { outcome, messages } = await send(hsm.client, [{ command, enclave: e }]);
        assert.equal(outcome.status, 200);
        assert.deepEqual(listedNames(command, messages[0]).sort(), model.list(hsm.identity, command, e), `${command} in ${e}`);
      }
    }
    const { messages } = await send(hsm.client, [{ command: "ENCLAVE:LIST", enclave: "" }]);
    assert.deepEqual(listedNames("ENCLAVE:LIST", messages[0]).sort(), model.list(hsm.identity, "ENCLAVE:LIST", ""));
  });
});

describe("access control beyond the matrix", () => {
  const T = "tenant";
  const OTHER_T = "tenant-2";
  let tAdmin: Actor;

  /** A fresh identity created by `by` in `enclave` with a privilege and optional policy. */
  async function identity(by: KmsClient, enclave: string, privilege: Privilege, policy?: string, name: string = privilege): Promise<Actor> {
    const a = actor(name);
    await by.createIdentity(enclave, a.identity, privilege);
    if (policy) await by.assignPolicy(enclave, policy, a.identity);
    a.client = server.client(a.apiKey);
    return a;
  }

  before(async () => {
    const admin = hsm.client;
    await admin.createEnclave(T);
    await admin.createEnclave(OTHER_T);
    for (const e of [T, OTHER_T]) for (const key of ["k-1", "k-2", "a-1", "a-2", "b-1"]) await admin.createKey(e, key);
    tAdmin = await identity(admin, T, "Admin", undefined, "tenant Admin");
  });

  it("an unknown identity gets 403 for every command, but /version and /v1/health/* answer it", async () => {
    const c = stranger.client;
    assert.ok((await c.version()).version, "/version");
    for (const path of ["/v1/health/live", "/v1/health/ready"]) assert.equal((await c.request("GET", path)).status, 200, path);
    await denied(c.keyStatus(T, "k-1"), "KEY:STATUS");
    await denied(c.keyStatus(T, "no-such-key"), "KEY:STATUS of a missing key");
    await denied(c.keyStatus("no-such-enclave", "k-1"), "KEY:STATUS in a missing enclave");
    await denied(c.listKeys(T), "KEY:LIST");
    await denied(c.clusterStatus(), "CLUSTER:STATUS");
    await denied(c.listEnclaves(), "ENCLAVE:LIST");
    await denied(c.createIdentity(T, c.identity, "SysAdmin"), "IDENTITY:CREATE of itself");
  });

  it("an Admin cannot create a SysAdmin (403) but can create an Admin, who then runs the enclave and nothing more", async () => {
    const wouldBeSys = actor("would-be SysAdmin");
    await denied(tAdmin.client.createIdentity(T, wouldBeSys.identity, "SysAdmin"), "Admin creates a SysAdmin");
    await rejects(hsm.client.identityStatus(T, wouldBeSys.identity), 404, "identity does not exist", "the denied SysAdmin was not created");
    const second = await identity(tAdmin.client, T, "Admin", undefined, "second Admin");
    const st = await hsm.client.identityStatus(T, second.identity);
    assert.equal(st.privilege, 2, "privilege Admin");
    assert.equal(st.created_by, tAdmin.identity);
    await second.client.createKey(T, "made-by-second-admin");
    await second.client.createPolicy(T, "second-admin-policy", { "KEY:STATUS": ["*"] });
    await denied(second.client.keyStatus(OTHER_T, "k-1"), "new Admin in another enclave");
    await denied(second.client.createKey(OTHER_T, "x"), "new Admin creates a key in another enclave");
    await denied(second.client.clusterStatus(), "new Admin: CLUSTER:STATUS");
    await denied(second.client.createEnclave("admin-made"), "new Admin: ENCLAVE:CREATE");
    await denied(second.client.enclaveStatus(T), "new Admin: ENCLAVE:STATUS of its own enclave");
    await denied(second.client.deleteEnclave(T), "new Admin: ENCLAVE:DELETE of its own enclave");
  });

  it("an Admin cannot delete or assign a policy to a SysAdmin; a User allowed everything cannot create, delete or re-policy an Admin", async () => {
    const sa = await identity(hsm.client, T, "SysAdmin", undefined, "tenant SysAdmin");
    await hsm.client.createPolicy(T, "all", { "IDENTITY:CREATE": ["*"], "IDENTITY:DELETE": ["*"], "POLICY:ASSIGN": ["*"], "KEY:STATUS": ["*"] });
    await denied(tAdmin.client.deleteIdentity(T, sa.identity), "Admin deletes a SysAdmin");
    await denied(tAdmin.client.assignPolicy(T, "all", sa.identity), "Admin assigns a policy to a SysAdmin");
    assert.equal((await sa.client.keyStatus(OTHER_T, "k-1")).name, "k-1", "the SysAdmin is intact and acts in other enclaves");
    const u = await identity(hsm.client, T, "User", "all", "User allowed identity commands");
    await denied(u.client.createIdentity(T, actor("x").identity, "Admin"), "User creates an Admin");
    await denied(u.client.createIdentity(T, actor("x").identity, "SysAdmin"), "User creates a SysAdmin");
    await denied(u.client.deleteIdentity(T, tAdmin.identity), "User deletes an Admin");
    await denied(u.client.assignPolicy(T, "all", tAdmin.identity), "User assigns a policy to an Admin");
    const peer = await identity(u.client, T, "User", undefined, "User made by a User");
    await u.client.assignPolicy(T, "all", peer.identity);
    await u.client.deleteIdentity(T, peer.identity);
    await denied(peer.client.keyStatus(T, "k-1"), "the deleted peer");
  });

  it("revocation: deleting an identity denies its very next request", async () => {
    await hsm.client.createPolicy(T, "status-k", { "KEY:STATUS": ["k-*"] });
    const u = await identity(tAdmin.client, T, "User", "status-k", "revoked User");
    const a = await identity(tAdmin.client, T, "Admin", undefined, "revoked Admin");
    const s = await identity(hsm.client, OTHER_T, "SysAdmin", undefined, "revoked SysAdmin");
    await u.client.keyStatus(T, "k-1");
    await a.client.keyStatus(T, "k-1");
    await s.client.keyStatus(T, "k-1");
    await s.client.clusterStatus();
    await tAdmin.client.deleteIdentity(T, u.identity);
    await denied(u.client.keyStatus(T, "k-1"), "deleted User");
    await tAdmin.client.deleteIdentity(T, a.identity);
    await denied(a.client.keyStatus(T, "k-1"), "deleted Admin");
    await hsm.client.deleteIdentity(OTHER_T, s.identity);
    await denied(s.client.keyStatus(T, "k-1"), "deleted SysAdmin in another enclave");
    await denied(s.client.clusterStatus(), "deleted SysAdmin: CLUSTER:STATUS");
    // An identity may delete itself; that, too, takes effect at once.
    const self = await identity(tAdmin.client, T, "Admin", undefined, "self-deleting Admin");
    await self.client.deleteIdentity(T, self.identity);
    await denied(self.client.keyStatus(T, "k-1"), "self-deleted Admin");
  });

  it("revocation: deleting a policy denies its holders' very next request, and a new policy of the same name grants nothing", async () => {
    await hsm.client.createPolicy(T, "gen", { "KEY:GENERATE": ["k-*"] });
    const u = await identity(tAdmin.client, T, "User", "gen", "policy holder");
    await u.client.generate(T, "k-1");
    await tAdmin.client.deletePolicy(T, "gen");
    await denied(u.client.generate(T, "k-1"), "after the policy's deletion");
    assert.equal((await hsm.client.identityStatus(T, u.identity)).policy, "", "deleting a policy unassigns it");
    await tAdmin.client.createPolicy(T, "gen", { "KEY:GENERATE": ["*"] });
    await denied(u.client.generate(T, "k-1"), "a re-created policy of the same name is not assigned");
  });

  it("one policy per identity: assigning replaces; replacing a policy's rules applies at the next request", async () => {
    await hsm.client.createPolicy(T, "only-status", { "KEY:STATUS": ["*"] });
    await hsm.client.createPolicy(T, "only-mac", { "KEY:MAC": ["*"] });
    const u = await identity(tAdmin.client, T, "User", "only-status", "re-assigned User");
    await u.client.keyStatus(T, "k-1");
    await denied(u.client.mac(T, "k-1", new Uint8Array(1)), "MAC before");
    await tAdmin.client.assignPolicy(T, "only-mac", u.identity);
    await denied(u.client.keyStatus(T, "k-1"), "STATUS after re-assignment");
    await u.client.mac(T, "k-1", new Uint8Array(1));
    await tAdmin.client.createPolicy(T, "only-mac", { "KEY:MAC": ["a-*"] });
    await denied(u.client.mac(T, "k-1", new Uint8Array(1)), "MAC after narrowing the policy");
    await u.client.mac(T, "a-1", new Uint8Array(1));
    await tAdmin.client.createPolicy(T, "only-mac", { "KEY:MAC": ["*"] }, { "KEY:MAC": ["a-1"] });
    await denied(u.client.mac(T, "a-1", new Uint8Array(1)), "MAC after adding a deny");
    await u.client.mac(T, "a-2", new Uint8Array(1));
  });

  it("a denied User gets 403, never 404, for keys, policies, identities and enclaves that do not exist", async () => {
    await hsm.client.createPolicy(T, "a-keys", { "KEY:STATUS": ["a-*"], "KEY:DELETE": ["a-*"], "POLICY:GET": ["a-*"], "IDENTITY:STATUS": ["h1:A*"] }, { "KEY:STATUS": ["a-9*"] });
    const u = await identity(tAdmin.client, T, "User", "a-keys", "narrow User");
    await rejects(u.client.keyStatus(T, "a-missing"), 404, "key does not exist", "allowed and missing");
    await denied(u.client.keyStatus(T, "b-missing"), "no allow, missing key");
    await denied(u.client.keyStatus(T, "a-9-missing"), "denied by deny, missing key");
    await denied(u.client.keyStatus(T, "b-1"), "no allow, existing key");
    await denied(u.client.deleteKey(T, "b-missing"), "DELETE: no allow, missing key");
    await denied(u.client.getPolicy(T, "b-missing"), "POLICY:GET: no allow, missing policy");
    await rejects(u.client.getPolicy(T, "a-missing"), 404, "policy does not exist", "POLICY:GET: allowed, missing");
    await denied(u.client.identityStatus(T, actor("x").identity.replace(/^h1:./, "h1:B")), "IDENTITY:STATUS: no allow, missing identity");
    await denied(u.client.keyStatus("no-such-enclave", "a-1"), "missing enclave");
    await denied(u.client.keyStatus(OTHER_T, "a-missing"), "other enclave, missing key");
    await denied(tAdmin.client.keyStatus("no-such-enclave", "a-1"), "Admin: missing enclave");
    await denied(tAdmin.client.enclaveStatus("no-such-enclave"), "Admin: ENCLAVE:STATUS of a missing enclave");
    await rejects(hsm.client.keyStatus("no-such-enclave", "a-1"), 404, "enclave does not exist", "SysAdmin: missing enclave");
  });

  it("listings show a User only what its policy allows for the list command, page by page", async () => {
    const e = "listing";
    await hsm.client.createEnclave(e);
    for (const key of ["a-1", "a-2", "a-3", "a-secret", "b-1", "b-2"]) await hsm.client.createKey(e, key);
    await hsm.client.createPolicy(e, "lister", {
      "KEY:LIST": ["a-*", "b-2"], "POLICY:LIST": ["l*"], "IDENTITY:LIST": ["h1:*"], "KEY:STATUS": ["*"],
    }, { "KEY:LIST": ["*secret"], "IDENTITY:LIST": [] });
    await hsm.client.createPolicy(e, "other-policy", {});
    await hsm.client.createPolicy(e, "no-list", { "KEY:STATUS": ["*"] });
    const u = await identity(hsm.client, e, "User", "lister", "lister");
    const blind = await identity(hsm.client, e, "User", "no-list", "no-list User");
    const names = async (c: KmsClient, limit: number) => {
      const out: string[] = [];
      let at = "";
      for (let pages = 0; pages < 20; pages++) {
        const r = await c.listKeys(e, "", at, limit);
        out.push(...listedNames("KEY:LIST", r));
        at = String(r.continue_at ?? "");
        if (!at) return out;
      }
      assert.fail("listing does not end");
    };
    assert.deepEqual(await names(u.client, 0), ["a-1", "a-2", "a-3", "b-2"]);
    for (const limit of [1, 2, 3]) assert.deepEqual(await names(u.client, limit), ["a-1", "a-2", "a-3", "b-2"], `pages of ${limit}`);
    assert.deepEqual(listedNames("KEY:LIST", await u.client.listKeys(e, "b")), ["b-2"], "with a prefix");
    assert.deepEqual(await names(hsm.client, 2), ["a-1", "a-2", "a-3", "a-secret", "b-1", "b-2"], "SysAdmin sees all");
    assert.deepEqual(listedNames("POLICY:LIST", await u.client.listPolicies(e)), ["lister"]);
    assert.deepEqual(listedNames("IDENTITY:LIST", await u.client.listIdentities(e)).sort(), [u.identity, blind.identity].sort());
    await denied(blind.client.listKeys(e), "KEY:LIST without an allow rule for it");
    await denied(blind.client.listPolicies(e), "POLICY:LIST without an allow rule for it");
    await denied(blind.client.listIdentities(e), "IDENTITY:LIST without an allow rule for it");
    await denied(u.client.listKeys(T), "KEY:LIST in another enclave");
  });

  it("a SysAdmin stays SysAdmin in an enclave where it is also listed as a User", async () => {
    const e = "demote";
    await hsm.client.createEnclave(e);
    await hsm.client.createKey(e, "k");
    const ea = await identity(hsm.client, e, "Admin", undefined, "Admin of demote");
    const sa = await identity(hsm.client, T, "SysAdmin", undefined, "SysAdmin of tenant");
    await sa.client.keyStatus(e, "k");
    // The enclave's Admin adds the SysAdmin's identity as a plain User without a policy.
    await ea.client.createIdentity(e, sa.identity, "User");
    const st: Op = { command: "KEY:STATUS", enclave: e, name: "k" };
    const mk: Op = { command: "KEY:CREATE", enclave: e, name: "by-sysadmin" };
    assert.deepEqual((await send(sa.client, [st])).outcome, OK, "KEY:STATUS: the SysAdmin privilege holds in every enclave");
    assert.deepEqual((await send(sa.client, [mk])).outcome, OK, "KEY:CREATE: the SysAdmin privilege holds in every enclave");
  });

  it("a batch with one denied frame is denied as a whole: 403 even when an allowed frame names a missing key", async () => {
    await hsm.client.createPolicy(T, "batch", { "KEY:STATUS": ["k-*", "missing-*"] });
    const u = await identity(tAdmin.client, T, "User", "batch", "batching User");
    const st = (name: string): Op => ({ command: "KEY:STATUS", enclave: T, name });
    assert.equal((await send(u.client, [st("k-1"), st("k-2")])).outcome.status, 200);
    assert.deepEqual((await send(u.client, [st("k-1"), st("missing-1")])).outcome, { status: 404, message: "key does not exist" });
    assert.deepEqual((await send(u.client, [st("missing-1"), st("a-1")])).outcome, DENIED);
    assert.deepEqual((await send(u.client, [st("k-1"), st("a-1")])).outcome, DENIED);
  });
});
