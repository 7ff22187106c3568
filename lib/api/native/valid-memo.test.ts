/**
 * Validation remembered per distinct message (valid-memo.ts) must answer
 * exactly as valibot does, whatever came before: a message like the last
 * valid one but for a field that fails is refused, with valibot's problem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { COMMANDS } from "./commands.ts";
import { validated } from "./execute.ts";

/** What valibot alone says of `message`: its output, or the first problem. */
function valibot(id: number, message: unknown): unknown {
  const r = v.safeParse(COMMANDS.get(id)!.schema, message);
  return r.success ? r.output : `invalid request: ${r.issues[0].message}`;
}

/** What validated() says. */
function ours(id: number, message: unknown): unknown {
  try {
    return validated(COMMANDS.get(id)!, message).req;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A seeded generator, so a failure repeats. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000);
}

test("a remembered validation answers as valibot, message after message", () => {
  const r = rng(3);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const names = ["k1", "k1", "k1", "k2", "-bad", "", "x".repeat(81), 7];
  const ad = [new Uint8Array(0), new Uint8Array(60), "not bytes", undefined];
  for (let i = 0; i < 3000; i++) {
    // GENERATE (207: associated_data is Bytes) and DERIVE (1201: context is Bytes with a limit).
    const id = r() < 0.7 ? 207 : 1201;
    const message: Record<string, unknown> = id === 207
      ? { name: pick(names), version: pick([0, 0, 1, -1, 1.5]), associated_data: pick(ad), length: pick([0, 0, 32, 1024, 1025]) }
      : { name: pick(names), version: 0, context: pick([new Uint8Array(10), new Uint8Array(1025)]), length: pick([0, 32, 65]) };
    if (r() < 0.05) delete message[pick(Object.keys(message))];
    if (r() < 0.05) message.extra = "dropped";
    const expected = valibot(id, message), got = ours(id, message);
    assert.deepEqual(got, expected, `message ${i}: ${JSON.stringify(message)}`);
    if (typeof expected === "object") assert.deepEqual(Object.keys(got as object), Object.keys(expected as object), "keys in the schema's order");
  }
});

test("a message whose bytes are a new array keeps its own bytes", () => {
  const a = new Uint8Array([1]), b = new Uint8Array([2]);
  const first = ours(207, { name: "k1", version: 0, associated_data: a, length: 0 }) as { associated_data: Uint8Array };
  const second = ours(207, { name: "k1", version: 0, associated_data: b, length: 0 }) as { associated_data: Uint8Array };
  assert.equal(first.associated_data, a);
  assert.equal(second.associated_data, b);
});
