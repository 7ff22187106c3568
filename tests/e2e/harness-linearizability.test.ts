/**
 * Self-test of the linearizability checker (tests/helpers/linearizability.ts):
 * hand-made linearizable and non-linearizable histories, the treatment of
 * 503s, unknown outcomes and other errors, per-key independence, the
 * explanation of a violation, the search budget, and agreement with a
 * brute-force checker on thousands of random small histories (and acceptance
 * of every history produced by a simulated atomic register).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/cluster/prng.ts";
import { checkHistory, describeResult, type HistoryEvent, HistoryRecorder, type OpKind, type Outcome, summarize } from "../helpers/linearizability.ts";

const OK: Outcome = { type: "ok" };
const E409: Outcome = { type: "err", status: 409, message: "key already exists" };
const E404: Outcome = { type: "err", status: 404, message: "key does not exist" };
const E503: Outcome = { type: "err", status: 503, message: "cluster unavailable" };
const LOST: Outcome = { type: "unknown", message: "connection reset" };

/** ev("create", 0, 10, OK, {client, key}) */
function ev(op: OpKind, invoke: number, response: number, outcome: Outcome, extra: { client?: number; key?: string } = {}): HistoryEvent {
  return { client: extra.client ?? 0, op, key: extra.key ?? "k", invoke, response, outcome };
}
const create = (a: number, b: number, o: Outcome = OK, x = {}) => ev("create", a, b, o, x);
const del = (a: number, b: number, o: Outcome = OK, x = {}) => ev("delete", a, b, o, x);
const present = (a: number, b: number, x = {}) => ev("read", a, b, OK, x);
const absent = (a: number, b: number, x = {}) => ev("read", a, b, E404, x);

function yes(h: HistoryEvent[], opts = {}) {
  const r = checkHistory(h, opts);
  assert.equal(r.linearizable, true, describeResult(r, h));
  return r;
}
function no(h: HistoryEvent[], opts = {}) {
  const r = checkHistory(h, opts);
  assert.equal(r.linearizable, false, `expected a violation:\n${h.map((e) => JSON.stringify(e)).join("\n")}`);
  assert.equal(r.inconclusive, false);
  return r;
}

describe("harness: linearizability checker, hand-made histories", () => {
  it("the empty history and sequential histories that follow the model are linearizable", () => {
    yes([]);
    yes([absent(0, 1), create(2, 3), present(4, 5), create(6, 7, E409), del(8, 9), absent(10, 11), del(12, 13, E404), create(14, 15), present(16, 17)]);
  });

  it("sequential histories that break the model are not", () => {
    no([present(0, 1)]); // nothing was ever created
    no([create(0, 1, E409)]); // 409 for a key that does not exist
    no([del(0, 1)]); // deleted a key that does not exist
    no([create(0, 1), create(2, 3)]); // created twice without a delete
    no([create(0, 1), del(2, 3), del(4, 5)]);
    no([create(0, 1), del(2, 3, E404)]);
  });

  it("rejects a stale read after an acknowledged create, and after an acknowledged delete", () => {
    no([create(0, 1), absent(2, 3)]);
    no([create(0, 1, OK, { client: 1 }), present(2, 3, { client: 2 }), absent(4, 5, { client: 3 })]);
    no([create(0, 1), del(2, 3), present(4, 5)]);
  });

  it("rejects a read that goes back in time even while the write is still in flight", () => {
    // The create is concurrent with both reads, but once a read saw it, a later read cannot miss it.
    yes([create(0, 10), absent(1, 2), present(3, 4)]);
    no([create(0, 10), present(1, 2), absent(3, 4)]);
    // Same for a delete in flight.
    yes([create(-2, -1), del(0, 10), present(1, 2), absent(3, 4)]);
    no([create(-2, -1), del(0, 10), absent(1, 2), present(3, 4)]);
  });

  it("accepts overlapping operations in any order consistent with their intervals", () => {
    // Two concurrent creates: one wins, the other sees 409, whichever order.
    yes([create(0, 10, OK, { client: 1 }), create(1, 9, E409, { client: 2 })]);
    yes([create(0, 10, E409, { client: 1 }), create(1, 9, OK, { client: 2 })]);
    // Both cannot win, unless a delete fits between them.
    no([create(0, 10, OK, { client: 1 }), create(1, 9, OK, { client: 2 })]);
    yes([create(0, 10, OK, { client: 1 }), create(1, 9, OK, { client: 2 }), del(2, 8, OK, { client: 3 })]);
    // A delete can only fit between them if it can take effect after one and before the other.
    no([create(0, 3, OK, { client: 1 }), create(1, 4, OK, { client: 2 }), del(5, 8, OK, { client: 3 })]);
    yes([create(0, 3, OK, { client: 1 }), create(1, 9, OK, { client: 2 }), del(4, 8, OK, { client: 3 })]);
    // Reads inside a create/delete/create sandwich.
    yes([create(0, 20), del(0, 20, OK, { client: 1 }), present(5, 6, { client: 2 }), absent(7, 8, { client: 2 }), present(9, 10, { client: 2 }), create(0, 20, OK, { client: 3 })]);
    no([create(0, 20), del(0, 20, OK, { client: 1 }), present(5, 6, { client: 2 }), absent(7, 8, { client: 2 }), present(9, 10, { client: 2 }), absent(11, 12, { client: 2 }), create(0, 20, OK, { client: 3 })]);
  });

  it("operations that touch at one instant count as concurrent", () => {
    yes([create(0, 1), absent(1, 2)]);
    no([create(0, 1), absent(1.0001, 2)]);
  });

  it("a write that failed with 503 did not happen (definite), unless told to treat it as unknown", () => {
    yes([create(0, 1, E503), absent(2, 3), create(4, 5), present(6, 7)]);
    const r = no([create(0, 1, E503), present(2, 3)]);
    assert.deepEqual(r.ignored, { "create 503": 1 });
    yes([create(0, 1, E503), present(2, 3)], { failedWrites: "unknown" });
    no([create(0, 1), del(2, 3, E503), absent(4, 5)]);
    yes([create(0, 1), del(2, 3, E503), absent(4, 5)], { failedWrites: "unknown" });
  });

  it("asUnknown reads chosen outcomes as unknown (to diagnose which failures were not definite)", () => {
    const forwarded: Outcome = { type: "err", status: 503, message: "cluster unavailable: the leader cannot be reached" };
    const h = [create(0, 1), del(2, 3, forwarded), del(2, 3, E503, { client: 1 }), absent(4, 5)];
    no(h);
    yes(h, { asUnknown: (e: HistoryEvent) => e.outcome.type === "err" && /leader cannot be reached/.test(e.outcome.message) });
    // A chosen ok is unknown too: it may then not have happened.
    yes([create(0, 1), absent(2, 3)], { asUnknown: (e: HistoryEvent) => e.op === "create" });
  });

  it("an unknown outcome may take effect at any time after its invocation, or never", () => {
    yes([create(0, 1, LOST), absent(2, 3), absent(4, 5)]); // never
    yes([create(0, 1, LOST), absent(2, 3), present(4, 5)]); // later
    yes([create(0, 1, LOST), present(2, 3)]); // at once
    no([create(0, 1, LOST), present(2, 3), absent(4, 5)]); // but it takes effect once
    no([absent(0, 1), present(2, 3), create(4, 5, LOST)]); // and not before it was invoked
    // Its own result is unknown too: an unknown create on an existing key changes nothing.
    yes([create(0, 1), create(2, 3, LOST), present(4, 5), del(6, 7), absent(8, 9)]);
    // An unknown delete.
    yes([create(0, 1), del(2, 3, LOST), present(4, 5), absent(6, 7)]);
    no([create(0, 1), del(2, 3, LOST), absent(4, 5), present(6, 7)]);
    // Two unknowns can both take effect, in either order.
    yes([create(0, 1, LOST), del(0, 1, LOST, { client: 1 }), present(2, 3), absent(4, 5)]);
  });

  it("operations that never reached a server (connection refused) are left out", () => {
    const REFUSED: Outcome = { type: "failed", message: "ECONNREFUSED" };
    const r = yes([create(0, 1, REFUSED), absent(2, 3), del(4, 5, REFUSED), ev("read", 4, 5, REFUSED)]);
    assert.deepEqual(r.ignored, { "create not sent": 1, "delete not sent": 1, "read not sent": 1 });
    no([create(0, 1, REFUSED), present(2, 3)]);
  });

  it("failed reads are left out; unexpected write errors are unknown and reported as anomalies", () => {
    const r = yes([create(0, 1), ev("read", 2, 3, E503), ev("read", 2, 3, LOST), present(4, 5)]);
    assert.deepEqual(r.ignored, { "read 503": 1, "read unknown": 1 });
    const weird: Outcome = { type: "err", status: 500, message: "internal error" };
    const r2 = yes([create(0, 1, weird), absent(2, 3), present(4, 5)]);
    assert.equal(r2.anomalies.length, 1);
    no([create(0, 1, weird), present(2, 3)], { otherErrors: "definite" });
  });

  it("checks each key on its own and names the one with the violation", () => {
    const h = [
      create(0, 1, OK, { key: "a" }), present(2, 3, { key: "a" }),
      create(0, 1, OK, { key: "b" }), absent(2, 3, { key: "b", client: 7 }),
      absent(0, 10, { key: "c" }),
    ];
    const r = no(h);
    assert.deepEqual(r.keys.map((k) => [k.key, k.linearizable]), [["a", true], ["b", false], ["c", true]]);
    assert.deepEqual(r.violations.map((v) => v.key), ["b"]);
    const text = describeResult(r, h);
    assert.match(text, /NOT LINEARIZABLE/);
    assert.match(text, /key b: violation/);
    assert.match(text, /client 7: read b → 404 key does not exist/, text);
  });

  it("the explanation shows the longest linearizable prefix and the operation that cannot follow it", () => {
    const h = [create(0, 1), present(2, 3), del(4, 5), absent(6, 7), present(8, 9, { client: 3 }), create(10, 11)];
    const r = no(h);
    const text = r.violations[0].explanation!;
    assert.match(text, /longest linearizable prefix \(4 of 6 ops\)/, text);
    assert.match(text, /client 3: read k → ok/, text);
  });

  it("keys may exist initially", () => {
    yes([present(0, 1), del(2, 3)], { initial: () => true });
    no([present(0, 1)], { initial: (k: string) => k !== "k" });
  });

  it("a run out of search budget is inconclusive, not linearizable", () => {
    const h: HistoryEvent[] = [];
    for (let i = 0; i < 30; i++) h.push(create(0, 100, i % 2 ? E409 : OK, { client: i }), del(0, 100, E404, { client: 100 + i }));
    const r = checkHistory(h, { maxStepsPerKey: 50 });
    assert.equal(r.linearizable, false);
    assert.equal(r.inconclusive, true);
    assert.match(describeResult(r, h), /INCONCLUSIVE/);
  });

  it("many writes of unknown outcome (a leader's outage) are decided within the budget, violations included", () => {
    // 40 creates and 40 deletes whose answers were lost, reads between them, then definite writes:
    // the orders of such twins are all alike, and the search must not spend its budget on them.
    const lost = (i: number): HistoryEvent[] => [create(10 + i, Infinity, LOST, { client: i }), del(11 + i, Infinity, LOST, { client: 100 + i })];
    const h: HistoryEvent[] = [create(0, 1), del(2, 3)];
    for (let i = 0; i < 40; i++) h.push(...lost(2 * i), absent(200 + i, 200.5 + i, { client: 300 + i }));
    h.push(create(300, 301), present(302, 303), del(304, 305));
    assert.equal(checkHistory(h, { maxStepsPerKey: 200_000 }).linearizable, true);
    // Lost creates only: a read that sees the key after the last definite delete is explained by one of
    // them, but nothing can then explain the 404 of a delete right after it.
    const creates: HistoryEvent[] = [create(0, 1), del(2, 3)];
    for (let i = 0; i < 40; i++) creates.push(create(10 + i, Infinity, LOST, { client: i }), absent(200 + i, 200.5 + i, { client: 300 + i }));
    const bad = [...creates, create(300, 301, E409), del(304, 305), present(308, 309), del(310, 311, E404)];
    const r = checkHistory(bad, { maxStepsPerKey: 200_000 });
    assert.equal(r.inconclusive, false);
    assert.equal(r.linearizable, false);
  });

  it("summarize counts operations by outcome; the recorder classifies errors by their status", async () => {
    let t = 0;
    const rec = new HistoryRecorder(() => t++);
    const kmsError = Object.assign(new Error("key already exists"), { status: 409 });
    assert.deepEqual(await rec.run(1, 0, "create", "k", async () => {}), OK);
    assert.deepEqual(await rec.run(1, 0, "create", "k", async () => { throw kmsError; }), E409);
    assert.deepEqual(await rec.run(2, 1, "read", "k", async () => { throw new TypeError("fetch failed"); }), { type: "unknown", message: "fetch failed" });
    const refused = new Error("127.0.0.1:1: ECONNREFUSED: Unable to connect. Is the computer able to access the url?");
    assert.deepEqual(await rec.run(2, 1, "delete", "k", async () => { throw refused; }), { type: "failed", message: refused.message });
    assert.deepEqual(rec.events.map((e) => [e.invoke, e.response, e.client, e.node]), [[0, 1, 1, 0], [2, 3, 1, 0], [4, 5, 2, 1], [6, 7, 2, 1]]);
    assert.deepEqual(summarize(rec.events), { "create 409": 1, "create ok": 1, "delete failed": 1, "read unknown": 1 });
  });
});

// ---------------------------------------------------------------- against brute force

/** Brute force: tries every order that respects real time (unknown outcomes end at +∞). */
function bruteForce(h: HistoryEvent[]): boolean {
  type Op = { kind: OpKind; result: string; invoke: number; response: number };
  const ops: Op[] = [];
  for (const e of h) {
    const o = e.outcome;
    if (e.op === "read") {
      if (o.type === "ok") ops.push({ kind: "read", result: "present", invoke: e.invoke, response: e.response });
      else if (o.type === "err" && o.status === 404) ops.push({ kind: "read", result: "absent", invoke: e.invoke, response: e.response });
    } else if (o.type === "ok") ops.push({ kind: e.op, result: "ok", invoke: e.invoke, response: e.response });
    else if (o.type === "unknown") ops.push({ kind: e.op, result: "any", invoke: e.invoke, response: Infinity });
    else if (o.type === "err" && o.status !== 503) ops.push({ kind: e.op, result: "fail", invoke: e.invoke, response: e.response });
  }
  const apply = (s: boolean, o: Op): boolean | undefined => {
    if (o.kind === "read") return (o.result === "present") === s ? s : undefined;
    if (o.kind === "create") return o.result === "any" ? true : o.result === "ok" ? (s ? undefined : true) : (s ? s : undefined);
    return o.result === "any" ? false : o.result === "ok" ? (s ? false : undefined) : (s ? undefined : s);
  };
  const used = new Array(ops.length).fill(false);
  const go = (s: boolean, n: number): boolean => {
    if (n === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      // i may go next only if no other remaining op finished strictly before i began.
      if (ops.some((o, j) => !used[j] && j !== i && o.response < ops[i].invoke)) continue;
      const next = apply(s, ops[i]);
      if (next === undefined) continue;
      used[i] = true;
      if (go(next, n + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(false, 0);
}

/** A random small history: random intervals on a small time grid (so ties and overlaps are common), random outcomes. */
function randomHistory(rng: Prng, n: number): HistoryEvent[] {
  const outcomes: Record<OpKind, Outcome[]> = {
    create: [OK, OK, E409, E503, LOST],
    delete: [OK, OK, E404, E503, LOST],
    read: [OK, E404, E404, OK, E503],
  };
  const h: HistoryEvent[] = [];
  for (let i = 0; i < n; i++) {
    const op = rng.pick<OpKind>(["create", "delete", "read", "read"]);
    const a = rng.int(12);
    h.push({ client: i, op, key: "k", invoke: a, response: a + rng.int(5), outcome: rng.pick(outcomes[op]) });
  }
  return h;
}

describe("harness: linearizability checker against brute force", () => {
  it("agrees with brute force on 6,000 random histories of up to 7 operations (both verdicts occur)", () => {
    const counts = { yes: 0, no: 0 };
    for (let seed = 1; seed <= 6000; seed++) {
      const rng = new Prng(seed);
      const h = randomHistory(rng, 1 + rng.int(7));
      const expected = bruteForce(h);
      const got = checkHistory(h).linearizable;
      assert.equal(got, expected, `seed ${seed}: checker ${got}, brute force ${expected}\n${h.map((e) => JSON.stringify(e)).join("\n")}`);
      counts[expected ? "yes" : "no"]++;
    }
    assert.ok(counts.yes > 500 && counts.no > 500, JSON.stringify(counts));
  });

  it("accepts every history of a simulated atomic register (many clients, thousands of operations, lost replies), and catches one flipped read", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rng = new Prng(seed);
      const keys = ["a", "b", "c"];
      const exists = new Map<string, boolean>();
      const h: HistoryEvent[] = [];
      // Each client runs operations back to back; each takes effect atomically at a random instant within its interval.
      const clients = 8;
      const pending: Array<{ at: number; run: () => void }> = [];
      for (let c = 0; c < clients; c++) {
        let t = rng.float() * 5;
        for (let i = 0; i < 150; i++) {
          const op = rng.pick<OpKind>(["create", "delete", "read"]);
          const key = rng.pick(keys);
          const invoke = t;
          const response = t + 0.1 + rng.float() * 20;
          const at = invoke + rng.float() * (response - invoke);
          const lost = key !== "c" && rng.chance(0.03);
          const failed = !lost && op !== "read" && rng.chance(0.05);
          const event: { -readonly [K in keyof HistoryEvent]: HistoryEvent[K] } = { client: c, op, key, invoke, response, outcome: OK };
          h.push(event);
          if (failed) event.outcome = E503; // never takes effect
          else {
            pending.push({
              at: lost && rng.chance(0.5) ? Infinity : at, // a lost op may or may not take effect
              run: () => {
                const s = exists.get(key) ?? false;
                let outcome: Outcome;
                if (op === "read") outcome = s ? OK : E404;
                else if (op === "create") {
                  outcome = s ? E409 : OK;
                  exists.set(key, true);
                } else {
                  outcome = s ? OK : E404;
                  exists.set(key, false);
                }
                event.outcome = lost ? LOST : outcome;
              },
            });
            if (lost) event.outcome = LOST;
          }
          t = response + rng.float() * 3;
        }
      }
      pending.sort((x, y) => x.at - y.at);
      for (const p of pending) if (p.at !== Infinity) p.run();
      const r = checkHistory(h);
      assert.equal(r.linearizable, true, `seed ${seed}: ${describeResult(r, h)}`);

      // Key "c" never loses a reply, so its final state is known: a read after everything
      // that contradicts it must be rejected (and one that agrees accepted).
      const end = Math.max(...h.map((e) => e.response)) + 1;
      const final = exists.get("c") ?? false;
      yes([...h, ev("read", end, end + 1, final ? OK : E404, { key: "c", client: 99 })]);
      const r2 = no([...h, ev("read", end, end + 1, final ? E404 : OK, { key: "c", client: 99 })]);
      assert.deepEqual(r2.violations.map((v) => v.key), ["c"]);
    }
  });

  it("a stale read hidden in a long concurrent history is found", () => {
    const h: HistoryEvent[] = [];
    let t = 0;
    for (let i = 0; i < 500; i++) {
      h.push(create(t, t + 2, OK, { client: i % 4 }), present(t + 1, t + 3, { client: 10 + (i % 3) }), del(t + 2.5, t + 4, OK, { client: (i + 1) % 4 }));
      t += 5;
    }
    yes(h);
    h.splice(700, 1, { ...h[700], outcome: h[700].outcome.type === "ok" && h[700].op === "read" ? E404 : h[700].outcome });
    // h[700] is the read of round 233: inside create [t, t+2] .. delete [t+2.5, t+4], at [t+1, t+3]: absent fits (before the create took effect).
    yes(h);
    // A read strictly between an acknowledged create and the delete's invocation cannot be absent.
    const r = no([...h, absent(5 * 100 + 2.1, 5 * 100 + 2.2, { client: 42 })]);
    assert.deepEqual(r.violations.map((v) => v.key), ["k"]);
    assert.match(r.violations[0].explanation!, /client 42/);
  });
});

it("a 504 write is unknown: it may have happened (a later read may see it) or not", () => {
  const ev = (client: number, op: "create" | "read", invoke: number, response: number, outcome: HistoryEvent["outcome"]): HistoryEvent =>
    ({ client, op, key: "k", invoke, response, outcome });
  const took = [ev(1, "create", 0, 10, { type: "err", status: 504, message: "x" }), ev(2, "read", 20, 30, { type: "ok" })];
  const didNot = [ev(1, "create", 0, 10, { type: "err", status: 504, message: "x" }), ev(2, "read", 20, 30, { type: "err", status: 404, message: "key does not exist" })];
  assert.equal(checkHistory(took).linearizable, true);
  assert.equal(checkHistory(didNot).linearizable, true);
});
