import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Entry } from "../cluster/types.ts";
import { apply } from "../state/apply.ts";
import type { Command } from "../state/commands.ts";
import { State } from "../state/state.ts";
import { blocker, callerReads, Obj } from "./pending.ts";

const ADMIN = "h1:" + "A".repeat(43);
const id = (c: string) => "h1:" + c.repeat(43);
const [ALICE, BOB, ROOT, SA] = [id("a"), id("b"), id("r"), id("s")];
const material = Buffer.alloc(32, 1).toString("base64");
const stamp = { at: 1, by: ADMIN };

/** Two enclaves; alice (User, policy p) and bob in e1, root a SysAdmin in e2, sa a service account of alice. */
function state(): State {
  const s = new State();
  const cmds: Command[] = [
    { type: "enclave.create", name: "e1", ...stamp },
    { type: "enclave.create", name: "e2", ...stamp },
    { type: "key.create", enclave: "e1", name: "a", keyType: "AES256", material, addVersion: false, ...stamp },
    { type: "key.create", enclave: "e1", name: "b", keyType: "AES256", material, addVersion: false, ...stamp },
    { type: "policy.create", enclave: "e1", name: "p", allow: { "KEY:GENERATE": ["*"] }, deny: {}, ...stamp },
    { type: "identity.create", enclave: "e1", identity: ALICE, privilege: "User", policy: "p", serviceAccount: false, tags: {}, ...stamp },
    { type: "identity.create", enclave: "e1", identity: BOB, privilege: "User", policy: "", serviceAccount: false, tags: {}, ...stamp },
    { type: "identity.create", enclave: "e1", identity: SA, privilege: "User", policy: "", serviceAccount: true, tags: {}, at: 1, by: ALICE },
    { type: "identity.create", enclave: "e2", identity: ROOT, privilege: "SysAdmin", policy: "", serviceAccount: false, tags: {}, ...stamp },
  ];
  for (const c of cmds) apply(s, c);
  return s;
}

let index = 100;
const entry = (cmd: unknown): Entry<Command> => ({ index: index++, term: 1, type: "cmd", cmd: cmd as Command });
const blocks = (s: State, cmd: unknown, reads: string[]) => blocker([entry(cmd)], new Set(reads), s) !== undefined;

/** What GENERATE on key `k` of e1 by `who` reads (as the native route computes it). */
const generate = (s: State, who: string, k: string) => [...callerReads(s, ADMIN, who, "e1"), Obj.enclave("e1"), Obj.key("e1", k)];

test("crypto on a key waits only for writes to that key: a pending write to key b leaves key a alone (the old rule blocked the whole enclave)", () => {
  const s = state();
  const createB = { type: "key.create", enclave: "e1", name: "b", keyType: "AES256", material, addVersion: true, ...stamp };
  assert.equal(blocks(s, createB, generate(s, ALICE, "a")), false);
  assert.equal(blocks(s, createB, generate(s, ALICE, "b")), true);
  assert.equal(blocks(s, createB, [Obj.keys("e1")]), true, "listings of the enclave's keys wait");
  assert.equal(blocks(s, createB, [Obj.keys("e2")]), false);
  assert.equal(blocks(s, { type: "key.delete", enclave: "e1", name: "b", version: 0, allVersions: true }, generate(s, ADMIN, "a")), false);
});

test("authorization waits only for the caller's own records: another identity's change does not delay it (the old rule blocked every enclave)", () => {
  const s = state();
  const newCarol = { type: "identity.create", enclave: "e2", identity: id("c"), privilege: "User", policy: "", serviceAccount: false, tags: {}, ...stamp };
  assert.equal(blocks(s, newCarol, generate(s, ALICE, "a")), false);
  assert.equal(blocks(s, newCarol, callerReads(s, ADMIN, id("c"), "e2")), true, "the stranger being created waits for its own record");
  assert.equal(blocks(s, newCarol, callerReads(s, ADMIN, id("c"), "e1")), true, "it could become a SysAdmin: its standing anywhere waits");
  // Bob's policy changes; alice's requests go on. Alice's policy changes: hers wait.
  assert.equal(blocks(s, { type: "policy.assign", enclave: "e1", identity: BOB, policy: "p" }, generate(s, ALICE, "a")), false);
  assert.equal(blocks(s, { type: "policy.assign", enclave: "e1", identity: ALICE, policy: "p" }, generate(s, ALICE, "a")), true);
  assert.equal(blocks(s, { type: "policy.create", enclave: "e1", name: "p", allow: {}, deny: {}, ...stamp }, generate(s, ALICE, "a")), true);
  assert.equal(blocks(s, { type: "policy.create", enclave: "e1", name: "q", allow: {}, deny: {}, ...stamp }, generate(s, ALICE, "a")), false);
  // The HSM admin reads no record, only whether it is enabled: disabling it blocks it, and nobody else.
  assert.deepEqual(callerReads(s, ADMIN, ADMIN, "e1"), [Obj.adminKey]);
  const disable = { type: "admin-key.set", enabled: false, ...stamp };
  assert.equal(blocks(s, disable, callerReads(s, ADMIN, ADMIN, "e1")), true);
  assert.equal(blocks(s, disable, generate(s, ALICE, "a")), false);
});

test("changes whose reach depends on the state: service accounts go with their owner, a deleted policy unassigns its holders, a deleted enclave takes its SysAdmins", () => {
  const s = state();
  assert.equal(blocks(s, { type: "identity.delete", enclave: "e1", identity: ALICE }, callerReads(s, ADMIN, SA, "e1")), true);
  assert.equal(blocks(s, { type: "identity.delete", enclave: "e1", identity: BOB }, callerReads(s, ADMIN, SA, "e1")), false);
  assert.equal(blocks(s, { type: "policy.delete", enclave: "e1", name: "p" }, [Obj.identity("e1", ALICE)]), true);
  assert.equal(blocks(s, { type: "policy.delete", enclave: "e1", name: "p" }, [Obj.identity("e1", BOB)]), false);
  assert.equal(blocks(s, { type: "enclave.delete", name: "e2" }, callerReads(s, ADMIN, ROOT, "e1")), true);
  assert.equal(blocks(s, { type: "enclave.delete", name: "e2" }, generate(s, ALICE, "a")), false);
  assert.equal(blocks(s, { type: "enclave.delete", name: "e1" }, generate(s, ADMIN, "a")), true, "everything in a deleted enclave waits");
  assert.equal(blocks(s, { type: "enclave.create", name: "e3", ...stamp }, [Obj.enclaves]), true);
});

test("entries that are not commands, or not valid ones, change nothing; the first blocking entry is returned", () => {
  const s = state();
  const reads = new Set(generate(s, ALICE, "b"));
  assert.equal(blocker([{ index: 1, term: 1, type: "noop" }, entry({ type: "bogus", enclave: "e1", name: "b" })], reads, s), undefined);
  const w = entry({ type: "key.delete", enclave: "e1", name: "b", version: 0, allVersions: true });
  assert.equal(blocker([entry({ type: "key.delete", enclave: "e1", name: "a", version: 0, allVersions: true }), w], reads, s), w);
  assert.equal(blocker([w], new Set(), s), undefined);
});
