/**
 * Validation once per distinct message: a pipelined batch names the same key
 * with the same options thousands of times, and valibot's object schema cost
 * as much per frame as decoding it (docs/performance.md, "Sixth changes").
 * For a command whose schema is a plain `v.object` (no pipe on it), whose
 * bytes fields are the shared `Bytes` (any Uint8Array passes, as it is), the
 * outcome depends only on the other fields' values: a message whose other
 * fields are the very values (===) of the last one that passed gets that
 * one's output, with its own bytes. Anything else is validated by valibot.
 */
import type * as v from "valibot";
import { Bytes } from "./schemas.ts";

interface Memo {
  readonly keys: readonly string[];
  readonly bytes: readonly boolean[];
  /** The last message that passed, field by field (keys' order), and its output. */
  input: unknown[] | undefined;
  output: Record<string, unknown> | undefined;
}

const memos = new WeakMap<v.GenericSchema, Memo | null>();
// A batch asks about one schema thousands of times in a row: a WeakMap lookup per frame showed in the profile.
let lastSchema: v.GenericSchema | undefined, lastMemo: Memo | null = null;

function memoOf(schema: v.GenericSchema): Memo | null {
  if (schema === lastSchema) return lastMemo;
  lastSchema = schema;
  return lastMemo = memoFor(schema);
}

function memoFor(schema: v.GenericSchema): Memo | null {
  let m = memos.get(schema);
  if (m === undefined) {
    const s = schema as { type?: string; entries?: Record<string, v.GenericSchema>; pipe?: unknown };
    m = null;
    if (s.type === "object" && s.entries && s.pipe === undefined) {
      const keys = Object.keys(s.entries);
      m = { keys, bytes: keys.map((k) => s.entries![k] === Bytes), input: undefined, output: undefined };
    }
    memos.set(schema, m);
  }
  return m;
}

/** The output valibot gave the last message like `message` (see above), or undefined: validate it. */
export function rememberedOutput(schema: v.GenericSchema, message: unknown): Record<string, unknown> | undefined {
  const m = memoOf(schema);
  if (!m?.input || typeof message !== "object" || message === null) return undefined;
  const msg = message as Record<string, unknown>;
  for (let i = 0; i < m.keys.length; i++) {
    const k = m.keys[i];
    if (!(k in msg)) return undefined;
    if (m.bytes[i] ? !(msg[k] instanceof Uint8Array) : msg[k] !== m.input[i]) return undefined;
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < m.keys.length; i++) {
    const k = m.keys[i];
    out[k] = m.bytes[i] ? msg[k] : m.output![k];
  }
  return out;
}

/** Notes that `message` passed `schema` with `output`. */
export function remember(schema: v.GenericSchema, message: unknown, output: unknown): void {
  const m = memoOf(schema);
  if (!m || typeof message !== "object" || message === null) return;
  const msg = message as Record<string, unknown>;
  // Only primitives compare by value: an object's fields could differ under the same identity.
  if (!m.keys.every((k, i) => k in msg && (m.bytes[i] || msg[k] === null || typeof msg[k] !== "object" && typeof msg[k] !== "function"))) return;
  m.input = m.keys.map((k) => msg[k]);
  m.output = output as Record<string, unknown>;
}
