/**
 * A linearizability checker for histories of key creates, deletes and reads,
 * in the style of Wing & Gong as improved by Lowe (depth-first search over
 * linearizations with a cache of (linearized set, model state) already
 * explored), split per key (P-compositionality: operations on different keys
 * commute, so a history is linearizable iff every key's sub-history is).
 *
 * The model of one key is "exists or not":
 *   create  ok iff it did not exist (then it does), otherwise 409
 *   delete  ok iff it existed (then it does not), otherwise 404
 *   read    returns exists (200) or not (404)
 *
 * Outcomes, as recorded by the client:
 *   ok       the server acknowledged it
 *   err      the server answered with an HTTP error (status, message)
 *   failed   it certainly never reached a server (connection refused): left out
 *   unknown  no answer (timeout, connection error): it may or may not have
 *            happened, at any time after its invocation. Modelled as a call
 *            whose response comes at +∞ and whose result can be anything.
 * A write that failed with 503 did not happen (the server promises that such
 * failures are definite), so it is left out; `failedWrites: "unknown"` treats
 * them as unknown instead (useful to tell "a 503 write took effect" apart
 * from other violations). A 504 is the server saying the outcome is unknown
 * (a forwarded write whose answer was lost): unknown. Other unexpected errors on writes are unknown by
 * default. A failed read tells nothing and is left out.
 */

/** The operations of the model. */
export type OpKind = "create" | "delete" | "read";

/** What a client saw. */
export type Outcome =
  | { readonly type: "ok" }
  | { readonly type: "err"; readonly status: number; readonly message: string }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "unknown"; readonly message: string };

/** One operation of a history. Times are from one monotonic clock (e.g. performance.now()). */
export interface HistoryEvent {
  readonly client: number | string;
  readonly op: OpKind;
  readonly key: string;
  readonly invoke: number;
  /** When the outcome arrived (for unknown outcomes: when the client gave up; ignored). */
  readonly response: number;
  readonly outcome: Outcome;
  /** Which node served it, for diagnostics only. */
  readonly node?: number | string;
}

/** How to read outcomes. */
export interface CheckOptions {
  /** Writes that failed with 503: "definite" (did not happen; default) or "unknown". */
  readonly failedWrites?: "definite" | "unknown";
  /** Writes that failed with another unexpected status: "unknown" (default) or "definite". */
  readonly otherErrors?: "unknown" | "definite";
  /**
   * Events whose outcome is to be read as unknown whatever it was (e.g. one
   * kind of 503 suspected not to be definite), for diagnosing a violation.
   */
  readonly asUnknown?: (e: HistoryEvent) => boolean;
  /** Whether each key exists before the history (default: no key exists). */
  readonly initial?: (key: string) => boolean;
  /** Search budget per key (steps); beyond it the key's result is "timeout". Default 2,000,000. */
  readonly maxStepsPerKey?: number;
}

/** The result the model expects a call to have had. */
type Result = "ok" | "exists" | "absent" | "present" | "any";

/** An operation as the model sees it. */
interface ModelOp {
  readonly index: number; // into the original history
  readonly kind: OpKind;
  readonly result: Result;
  readonly invoke: number;
  readonly response: number; // Infinity for unknown outcomes
}

/** The verdict for one key. */
export interface KeyVerdict {
  readonly key: string;
  readonly linearizable: boolean | "timeout";
  /** Operations the checker considered (after leaving out definite failures and failed reads). */
  readonly ops: number;
  readonly steps: number;
  /** For a violation: the longest linearizable prefix found and the operation that could not be placed. */
  readonly explanation?: string;
}

/** The verdict for a whole history. */
export interface CheckResult {
  readonly linearizable: boolean;
  /** True when some key ran out of search budget (then linearizable is false too). */
  readonly inconclusive: boolean;
  readonly keys: readonly KeyVerdict[];
  readonly violations: readonly KeyVerdict[];
  /** Events the checker ignored and why (counts). */
  readonly ignored: Readonly<Record<string, number>>;
  /** Writes with an unexpected error (neither the model's 404/409 nor 503): reported, not fatal. */
  readonly anomalies: readonly HistoryEvent[];
}

/** Checks a whole history: each key on its own. */
export function checkHistory(history: readonly HistoryEvent[], opts: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, ModelOp[]>();
  const ignored: Record<string, number> = {};
  const anomalies: HistoryEvent[] = [];
  const skip = (why: string) => (ignored[why] = (ignored[why] ?? 0) + 1);
  history.forEach((e, index) => {
    const m = modelOp(e, index, opts, skip, anomalies);
    if (!m) return;
    let list = byKey.get(e.key);
    if (!list) byKey.set(e.key, (list = []));
    list.push(m);
  });
  const keys: KeyVerdict[] = [];
  for (const [key, ops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    keys.push(checkKey(key, ops, history, opts.initial?.(key) ?? false, opts.maxStepsPerKey ?? 2_000_000));
  }
  const violations = keys.filter((k) => k.linearizable !== true);
  return {
    linearizable: violations.length === 0,
    inconclusive: keys.some((k) => k.linearizable === "timeout"),
    keys,
    violations,
    ignored,
    anomalies,
  };
}

/** A one-paragraph account of a check, for test output. */
export function describeResult(r: CheckResult, history: readonly HistoryEvent[]): string {
  const lines = [
    `${r.linearizable ? "linearizable" : r.inconclusive ? "INCONCLUSIVE" : "NOT LINEARIZABLE"}: ` +
    `${history.length} events, ${r.keys.length} keys, ${r.keys.reduce((n, k) => n + k.ops, 0)} ops checked, ` +
    `${r.keys.reduce((n, k) => n + k.steps, 0)} search steps; ignored ${JSON.stringify(r.ignored)}` +
    (r.anomalies.length ? `; ${r.anomalies.length} writes with unexpected errors, e.g. ${formatEvent(r.anomalies[0])}` : ""),
  ];
  for (const v of r.violations) lines.push(`key ${v.key}: ${v.linearizable === "timeout" ? "search budget exhausted" : "violation"}\n${v.explanation ?? ""}`);
  return lines.join("\n");
}

/** Counts of a history by operation and outcome, e.g. {"create ok": 12, "create 503": 3, "read unknown": 1}. */
export function summarize(history: readonly HistoryEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of history) {
    const o = e.outcome.type === "err" ? String(e.outcome.status) : e.outcome.type;
    const k = `${e.op} ${o}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort());
}

/** One line describing an event. */
export function formatEvent(e: HistoryEvent): string {
  const o = e.outcome.type === "ok" ? "ok" : e.outcome.type === "err" ? `${e.outcome.status} ${e.outcome.message}` : `${e.outcome.type} (${e.outcome.message})`;
  const resp = e.outcome.type === "unknown" ? "∞" : e.response.toFixed(1);
  return `[${e.invoke.toFixed(1)} .. ${resp}] client ${e.client}${e.node !== undefined ? ` @node ${e.node}` : ""}: ${e.op} ${e.key} → ${o}`;
}

// ---------------------------------------------------------------- recording

/** Errors that prove a request never reached a server: the connection was refused. */
export const notSent = (err: unknown): boolean => /\bECONNREFUSED\b/.test((err as Error)?.message ?? "");

/** Records a history as clients run operations. */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  readonly #now: () => number;
  readonly #notSent: (err: unknown) => boolean;

  constructor(now: () => number = () => performance.now(), isNotSent: (err: unknown) => boolean = notSent) {
    this.#now = now;
    this.#notSent = isNotSent;
  }

  /**
   * Runs fn as one operation and records it. An error with a numeric `status`
   * (the client's KmsClientError) is an `err` outcome; a refused connection
   * (see notSent) is `failed`; any other error (transport, timeout) is
   * `unknown`. Never throws; resolves to the outcome.
   */
  async run(client: number | string, node: number | string | undefined, op: OpKind, key: string, fn: () => Promise<unknown>): Promise<Outcome> {
    const invoke = this.#now();
    let outcome: Outcome;
    try {
      await fn();
      outcome = { type: "ok" };
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      const message = (err as Error)?.message ?? String(err);
      outcome = typeof status === "number"
        ? { type: "err", status, message }
        : this.#notSent(err)
        ? { type: "failed", message }
        : { type: "unknown", message };
    }
    this.events.push({ client, node, op, key, invoke, response: this.#now(), outcome });
    return outcome;
  }
}

// ---------------------------------------------------------------- the model

/** Maps a recorded event to a model operation, or undefined when it is left out. */
function modelOp(e: HistoryEvent, index: number, opts: CheckOptions, skip: (why: string) => void, anomalies: HistoryEvent[]): ModelOp | undefined {
  const make = (result: Result, unknown = false): ModelOp => ({
    index, kind: e.op, result, invoke: e.invoke, response: unknown ? Infinity : e.response,
  });
  if (e.outcome.type === "failed") {
    skip(`${e.op} not sent`);
    return undefined;
  }
  if (opts.asUnknown?.(e)) {
    if (e.op === "read") {
      skip("read as unknown");
      return undefined;
    }
    return make("any", true);
  }
  if (e.op === "read") {
    if (e.outcome.type === "ok") return make("present");
    if (e.outcome.type === "err" && e.outcome.status === 404) return make("absent");
    skip(`read ${e.outcome.type === "err" ? e.outcome.status : "unknown"}`);
    return undefined;
  }
  if (e.outcome.type === "ok") return make("ok");
  if (e.outcome.type === "unknown") return make("any", true);
  const expected = e.op === "create" ? 409 : 404;
  if (e.outcome.status === expected) return make(e.op === "create" ? "exists" : "absent");
  // 504: the server itself says the outcome is unknown (a forwarded write whose answer was lost).
  if (e.outcome.status === 504) return make("any", true);
  if (e.outcome.status === 503) {
    if ((opts.failedWrites ?? "definite") === "unknown") return make("any", true);
    skip(`${e.op} 503`);
    return undefined;
  }
  anomalies.push(e);
  if ((opts.otherErrors ?? "unknown") === "unknown") return make("any", true);
  skip(`${e.op} ${e.outcome.status}`);
  return undefined;
}

/** The model's transition: undefined when the result is impossible in this state. */
function step(exists: boolean, op: ModelOp): boolean | undefined {
  switch (op.kind) {
    case "create":
      if (op.result === "any") return true;
      if (op.result === "ok") return exists ? undefined : true;
      return exists ? true : undefined; // 409
    case "delete":
      if (op.result === "any") return false;
      if (op.result === "ok") return exists ? false : undefined;
      return exists ? undefined : false; // 404
    case "read":
      return (op.result === "present") === exists ? exists : undefined;
  }
}

// ---------------------------------------------------------------- Wing–Gong–Lowe search

/** An entry of the doubly linked list of call and return events. */
interface Entry {
  readonly op: number; // index into ops
  readonly time: number;
  /** For a call: its return entry. Undefined for returns. */
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/** Checks one key's operations. */
function checkKey(key: string, ops: readonly ModelOp[], history: readonly HistoryEvent[], initial: boolean, maxSteps: number): KeyVerdict {
  // Events in time order; at equal times calls come first (such operations count as concurrent).
  const events: Array<{ entry: Entry; call: boolean }> = [];
  ops.forEach((o, i) => {
    const ret: Entry = { op: i, time: o.response };
    const call: Entry = { op: i, time: o.invoke, match: ret };
    events.push({ entry: call, call: true }, { entry: ret, call: false });
  });
  events.sort((a, b) => a.entry.time - b.entry.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = { op: -1, time: -Infinity };
  let prev = head;
  for (const { entry } of events) {
    prev.next = entry;
    entry.prev = prev;
    prev = entry;
  }

  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  // Unknown writes (any result, no response) of one kind are interchangeable once invoked: the
  // search places only the earliest-invoked of them still in the list (a symmetry reduction that
  // keeps the search exact while sparing it the orders of twins, which exhaust its budget).
  const unknownWrite = (i: number) => ops[i].result === "any" && ops[i].response === Infinity && ops[i].kind !== "read";
  const twinBefore = (e: Entry): boolean => {
    if (!unknownWrite(e.op)) return false;
    for (let p = e.prev; p && p !== head; p = p.prev) {
      if (p.match && unknownWrite(p.op) && ops[p.op].kind === ops[e.op].kind) return true;
    }
    return false;
  };

  const words = Math.ceil(ops.length / 32) || 1;
  const linearized = new Uint32Array(words);
  const keyOf = (bits: Uint32Array) => Array.prototype.join.call(bits, ",");
  const cache = new Map<string, number>(); // linearized set → bit 1: state false seen, bit 2: state true seen
  const calls: Array<{ entry: Entry; state: boolean }> = [];
  let state = initial;
  let entry = head.next;
  let steps = 0;
  let best: { order: number[]; blocker: number } = { order: [], blocker: -1 };

  while (head.next) {
    if (++steps > maxSteps) {
      return { key, linearizable: "timeout", ops: ops.length, steps, explanation: `gave up after ${maxSteps} steps (${ops.length} ops)` };
    }
    const e = entry!;
    if (e.match && twinBefore(e)) {
      // An unknown write with an earlier-invoked twin still to place: placing either gives the same futures.
      entry = e.next;
    } else if (e.match) {
      const next = step(state, ops[e.op]);
      if (next !== undefined) {
        linearized[e.op >> 5] |= 1 << (e.op & 31);
        const k = keyOf(linearized);
        const seen = cache.get(k) ?? 0;
        const bit = next ? 2 : 1;
        if (!(seen & bit)) {
          cache.set(k, seen | bit);
          calls.push({ entry: e, state });
          state = next;
          lift(e);
          entry = head.next;
          continue;
        }
        linearized[e.op >> 5] &= ~(1 << (e.op & 31));
      }
      entry = e.next;
    } else {
      // A return whose call is not linearized yet: everything before it has been tried. Backtrack.
      if (calls.length >= best.order.length) best = { order: calls.map((c) => c.entry.op), blocker: e.op };
      const top = calls.pop();
      if (!top) return { key, linearizable: false, ops: ops.length, steps, explanation: explain(ops, history, initial, best) };
      state = top.state;
      linearized[top.entry.op >> 5] &= ~(1 << (top.entry.op & 31));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { key, linearizable: true, ops: ops.length, steps };
}

/** Explains a violation: the longest linearizable prefix, the operation that could not follow it, and its neighbours in time. */
function explain(ops: readonly ModelOp[], history: readonly HistoryEvent[], initial: boolean, best: { order: number[]; blocker: number }): string {
  const ev = (i: number) => formatEvent(history[ops[i].index]);
  let s = initial;
  const prefix = best.order.map((i) => {
    s = step(s, ops[i])!;
    return `    ${ev(i)}   ⇒ ${s ? "exists" : "absent"}`;
  });
  const b = ops[best.blocker];
  const around = ops
    .map((o, i) => ({ o, i }))
    .filter(({ o, i }) => i !== best.blocker && !best.order.includes(i) && o.invoke <= b.response)
    .sort((x, y) => x.o.invoke - y.o.invoke)
    .slice(0, 12)
    .map(({ i }) => `    ${ev(i)}`);
  return [
    `  initially ${initial ? "exists" : "absent"}; longest linearizable prefix (${best.order.length} of ${ops.length} ops):`,
    ...(prefix.length > 40 ? [...prefix.slice(0, 5), `    … ${prefix.length - 35} more …`, ...prefix.slice(-30)] : prefix),
    `  cannot be extended to include, before it returned:`,
    `    ${ev(best.blocker)}`,
    ...(around.length ? [`  other operations not yet placed that began before that return:`, ...around] : []),
  ].join("\n");
}
