/**
 * Randomised access control: a few thousand operations by random identities
 * (SysAdmin, Admins, Users with random policies, strangers) over three
 * enclaves, run against one real server and the reference model in lockstep.
 * After every request the server's outcome (200 / 403 / 404 / 409 with the
 * exact message) must equal the model's; successful listings must show exactly
 * what the model shows; at the end every enclave's keys, policies (with their
 * rules) and identities (with privilege and policy) equal the model's.
 *
 * The seed is printed first; SEED=<n> replays a run, OPS=<n> changes its length.
 * Reads are pipelined in small batches (one caller, one enclave): a batch with
 * any denied frame is 403, otherwise its outcome is its first error in order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import {
  AccessModel, isSystem, isWrite, LIST_COMMANDS, listedNames, type ModelPolicy, type Op, type Outcome, type Privilege, type Rules,
  sameOutcome, send, show,
} from "../helpers/access-model.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const SEED = process.env.SEED ? Number(process.env.SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const OPS = Number(process.env.OPS ?? 4000);

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number) => next() < p;
  const weighted = <T>(table: ReadonlyArray<readonly [T, number]>): T => {
    let r = next() * table.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of table) if ((r -= w) < 0) return v;
    return table[table.length - 1][0];
  };
  return { next, int, pick, chance, weighted };
}

interface Actor {
  readonly name: string;
  readonly identity: string;
  readonly client: KmsClient;
}

const ENCLAVES = ["e0", "e1", "e2"];
const MISSING_ENCLAVE = "e-missing";
const KEY_NAMES = ["a-1", "a-2", "b-1", "b-2", "minio-1", "minio-x", "c"];
const POLICY_NAMES = ["p0", "p1", "p2", "p3"];
const KEY_PATTERNS = ["*", "a-*", "b-*", "minio-*", "*-1", "a-1", "c", "*x", "*-*"];
const POLICY_PATTERNS = ["*", "p*", "p1", "p2", "*3", "p0"];
const RANDOM_COMMANDS = [
  "KEY:CREATE", "KEY:DELETE", "KEY:STATUS", "KEY:GENERATE", "KEY:LIST",
  "POLICY:CREATE", "POLICY:DELETE", "POLICY:ASSIGN", "POLICY:GET", "POLICY:STATUS", "POLICY:LIST",
  "IDENTITY:CREATE", "IDENTITY:DELETE", "IDENTITY:STATUS", "IDENTITY:LIST",
  "ENCLAVE:STATUS", "CLUSTER:STATUS",
];
const WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ["KEY:CREATE", 10], ["KEY:DELETE", 5], ["KEY:STATUS", 8], ["KEY:GENERATE", 8], ["KEY:LIST", 5],
  ["POLICY:CREATE", 5], ["POLICY:DELETE", 2], ["POLICY:ASSIGN", 6], ["POLICY:GET", 2], ["POLICY:STATUS", 2], ["POLICY:LIST", 3],
  ["IDENTITY:CREATE", 7], ["IDENTITY:DELETE", 3], ["IDENTITY:STATUS", 2], ["IDENTITY:LIST", 3],
  ["ENCLAVE:STATUS", 1], ["CLUSTER:STATUS", 1],
];

let server: KmsServer;
let model: AccessModel;
let hsm: Actor;
const pool: Actor[] = [];

before(async () => {
  console.log(`access-random: SEED=${SEED} OPS=${OPS} (replay with SEED=${SEED})`);
  server = await startServer();
  hsm = { name: "HSM admin", identity: parseApiKey(server.apiKey).identity, client: server.client() };
  model = new AccessModel(hsm.identity);
  for (let i = 0; i < 12; i++) {
    const key = newApiKey();
    pool.push({ name: `id${i}`, identity: parseApiKey(key).identity, client: server.client(key) });
  }
});
after(cleanup);

describe("randomised access control against the model", () => {
  it(`${OPS} random operations by random identities agree with the model`, async () => {
    const rnd = prng(SEED);

    const identityPatterns = () => {
      const a = rnd.pick(pool);
      return rnd.pick(["*", "h1:*", a.identity, `${a.identity.slice(0, 5)}*`, `*${a.identity.slice(-2)}`]);
    };
    const patternsFor = (command: string) =>
      command.startsWith("KEY:") ? rnd.pick(KEY_PATTERNS) : command.startsWith("POLICY:") ? rnd.pick(POLICY_PATTERNS) : command.startsWith("IDENTITY:") ? identityPatterns() : "*";
    const randomPolicy = (): ModelPolicy => {
      const allow: Rules = {};
      const deny: Rules = {};
      for (const c of RANDOM_COMMANDS) {
        if (rnd.chance(0.6)) allow[c] = [...new Set(Array.from({ length: 1 + rnd.int(2) }, () => patternsFor(c)))];
        if (rnd.chance(0.12)) deny[c] = [patternsFor(c)];
      }
      return { allow, deny };
    };

    const homes = (a: Actor) => ENCLAVES.filter((e) => model.enclaves.get(e)?.identities.has(a.identity));
    const sysAdminElsewhere = (id: string, e: string) =>
      ENCLAVES.some((o) => o !== e && model.enclaves.get(o)?.identities.get(id)?.privilege === "SysAdmin");
    const existsElsewhere = (id: string, e: string) => ENCLAVES.some((o) => o !== e && model.enclaves.get(o)?.identities.has(id));

    /** A random op of `command` in enclave `e`. */
    const makeOp = (command: string, e: string): Op => {
      switch (command) {
        case "KEY:CREATE": case "KEY:DELETE": case "KEY:STATUS": case "KEY:GENERATE":
          return { command, enclave: e, name: rnd.pick(KEY_NAMES) };
        case "POLICY:CREATE":
          return { command, enclave: e, name: rnd.pick(POLICY_NAMES), policy: randomPolicy() };
        case "POLICY:DELETE": case "POLICY:GET": case "POLICY:STATUS":
          return { command, enclave: e, name: rnd.pick(POLICY_NAMES) };
        case "POLICY:ASSIGN":
          return { command, enclave: e, name: rnd.pick(POLICY_NAMES), identity: rnd.pick(pool).identity };
        case "IDENTITY:CREATE": {
          // Never give one identity a SysAdmin record in one enclave and another record elsewhere:
          // that combination is checked on its own in access-matrix.test.ts.
          for (let tries = 0; tries < 10; tries++) {
            const id = rnd.pick(pool).identity;
            const privilege = rnd.weighted<Privilege>([["SysAdmin", 1], ["Admin", 3], ["User", 6]]);
            if (sysAdminElsewhere(id, e) || (privilege === "SysAdmin" && existsElsewhere(id, e))) continue;
            return { command, enclave: e, name: id, privilege: privilege === "User" && rnd.chance(0.5) ? "" : privilege };
          }
          return { command: "IDENTITY:STATUS", enclave: e, name: rnd.pick(pool).identity };
        }
        case "IDENTITY:DELETE": case "IDENTITY:STATUS":
          return { command, enclave: e, name: rnd.pick(pool).identity };
        case "ENCLAVE:STATUS":
          return { command, enclave: "", name: rnd.pick([...ENCLAVES, MISSING_ENCLAVE]) };
        default:
          return { command, enclave: isSystem(command) ? "" : e };
      }
    };

    /** Applies `op` as the HSM admin to both; they must agree. */
    const setup = async (op: Op) => {
      const expected = model.apply(hsm.identity, op);
      const { outcome } = await send(hsm.client, [op]);
      assert.ok(sameOutcome(outcome, expected), `setup ${op.command} ${op.name}: server ${show(outcome)}, model ${show(expected)}`);
    };

    // The initial population: 3 enclaves, keys, random policies, 8 identities of mixed privileges.
    for (const e of ENCLAVES) {
      await setup({ command: "ENCLAVE:CREATE", enclave: "", name: e });
      for (const k of KEY_NAMES) if (rnd.chance(0.5)) await setup({ command: "KEY:CREATE", enclave: e, name: k });
      for (const p of POLICY_NAMES.slice(0, 3)) await setup({ command: "POLICY:CREATE", enclave: e, name: p, policy: randomPolicy() });
    }
    const initial: Array<[number, string, Privilege]> = [
      [0, "e0", "SysAdmin"], [1, "e0", "Admin"], [2, "e1", "Admin"], [3, "e2", "Admin"],
      [4, "e0", "User"], [5, "e1", "User"], [6, "e2", "User"], [7, "e1", "User"], [8, "e2", "User"],
    ];
    for (const [i, e, privilege] of initial) {
      await setup({ command: "IDENTITY:CREATE", enclave: e, name: pool[i].identity, privilege });
      if (privilege === "User") await setup({ command: "POLICY:ASSIGN", enclave: e, name: rnd.pick(POLICY_NAMES.slice(0, 3)), identity: pool[i].identity });
    }

    const stats: Record<string, number> = {};
    const count = (o: Outcome) => (stats[o.status] = (stats[o.status] ?? 0) + 1);
    let done = 0;
    let requests = 0;
    while (done < OPS) {
      const caller = rnd.chance(0.08) ? hsm : rnd.pick(pool);
      const h = homes(caller);
      const enclave = rnd.chance(0.04) ? MISSING_ENCLAVE : h.length && rnd.chance(0.7) ? rnd.pick(h) : rnd.pick(ENCLAVES);
      const first = makeOp(rnd.weighted(WEIGHTS), enclave);
      const ops: Op[] = [first];
      if (!isWrite(first.command)) {
        // A batch of reads to the same path.
        const more = rnd.int(3);
        for (let i = 0; i < more; i++) {
          const op = makeOp(rnd.weighted(WEIGHTS.filter(([c]) => !isWrite(c) && isSystem(c) === isSystem(first.command))), enclave);
          ops.push(op);
        }
      }
      const expected = ops.length === 1 ? model.check(caller.identity, first) : model.checkBatch(caller.identity, ops);
      const expectedLists = ops.map((op) => (LIST_COMMANDS.has(op.command) ? model.list(caller.identity, op.command, op.enclave) : undefined));
      const { outcome, messages } = await send(caller.client, ops);
      requests++;
      const where = () => {
        const w = model.who(caller.identity, isSystem(first.command) ? "" : enclave);
        return `SEED=${SEED}, request ${requests} (operation ${done + 1}) by ${caller.name} ${caller.identity} ` +
          `(model: ${w ? `${w.privilege}${w.policy ? ` with policy ${JSON.stringify(w.policy)}` : ""}` : "unknown"} in ${JSON.stringify(enclave)}):\n` +
          ops.map((op) => `  ${JSON.stringify({ ...op, policy: op.policy ? "(random)" : undefined })}`).join("\n");
      };
      assert.ok(sameOutcome(outcome, expected), `${where()}\nserver ${show(outcome)}, model ${show(expected)}`);
      if (outcome.status === 200) {
        ops.forEach((op, i) => {
          if (!expectedLists[i]) return;
          assert.deepEqual(listedNames(op.command, messages[i]).sort(), expectedLists[i], `${where()}\nlisting ${op.command}`);
        });
      }
      if (isWrite(first.command)) model.apply(caller.identity, first);
      count(expected);
      done += ops.length;
    }
    console.log(`access-random: ${done} operations in ${requests} requests; outcomes ${JSON.stringify(stats)}`);
    for (const status of ["200", "403", "404", "409"]) assert.ok((stats[status] ?? 0) >= 20, `the run exercised too few ${status} outcomes: ${JSON.stringify(stats)}`);

    // The end state, enclave by enclave, as the HSM admin sees it.
    const norm = (r: Rules) => Object.fromEntries(Object.entries(r).filter(([, ps]) => ps.length).map(([c, ps]) => [c, [...new Set(ps)].sort()]).sort());
    const rulesOf = (sets: unknown) =>
      norm(Object.fromEntries(Object.entries((sets ?? {}) as Record<string, { rules?: Record<string, unknown> }>).map(([c, s]) => [c, Object.keys(s.rules ?? {})])));
    const RANK: Record<Privilege, number> = { SysAdmin: 1, Admin: 2, User: 3 };
    for (const e of ENCLAVES) {
      const m = model.enclaves.get(e)!;
      const keys = await hsm.client.listKeys(e);
      assert.deepEqual(listedNames("KEY:LIST", keys).sort(), [...m.keys].sort(), `keys of ${e}`);
      const policies = await hsm.client.listPolicies(e);
      assert.deepEqual(listedNames("POLICY:LIST", policies).sort(), [...m.policies.keys()].sort(), `policies of ${e}`);
      for (const [name, p] of m.policies) {
        const got = await hsm.client.getPolicy(e, name);
        assert.deepEqual({ allow: rulesOf(got.allow), deny: rulesOf(got.deny) }, { allow: norm(p.allow), deny: norm(p.deny) }, `rules of policy ${name} in ${e}`);
      }
      const ids = (await hsm.client.listIdentities(e)).identities as Array<{ identity: string; privilege: number; policy: string }>;
      assert.deepEqual(
        ids.map((i) => ({ identity: i.identity, privilege: i.privilege, policy: i.policy ?? "" })).sort((a, b) => a.identity.localeCompare(b.identity)),
        [...m.identities].map(([identity, i]) => ({ identity, privilege: RANK[i.privilege], policy: i.policy })).sort((a, b) => a.identity.localeCompare(b.identity)),
        `identities of ${e}`,
      );
    }
  });
});
