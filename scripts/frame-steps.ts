/**
 * In process, what each step of a pipelined GENERATE request costs per frame
 * (µs of process CPU): a real node over a real store, the audit trail and the
 * metrics on as a server starts them, the native raw route called directly
 * with a 1,000-frame body (no network); then each step alone, over the same
 * frames, in the order the route runs it. The crypto row is the bench's
 * `crypto.dek` ceiling's work (32 random bytes, then lib/crypto's encrypt).
 *
 *   bun scripts/frame-steps.ts [--frames N] [--requests N] [--rounds R] [--whole]
 */
import { parseArgs } from "node:util";
import { COMMANDS } from "../lib/api/native/commands.ts";
import { CallerMemo } from "../lib/api/native/caller-memo.ts";
import { type Decoded, execute, validated } from "../lib/api/native/execute.ts";
import { authorize } from "../lib/state/policy.ts";
import { encrypt, keyBinding } from "../lib/crypto/ciphertext.ts";
import { randomBytes } from "../lib/crypto/random.ts";
import { encodeFrames, FramePieces, frameSpans, parseFrames } from "../lib/wire/frames.ts";
import { decode, decodeIn, encode, encodeFrame } from "../lib/wire/proto.ts";
import { frame, frames } from "../tests/support/app.ts";
import { cpuPerCall, stepsNode } from "./steps-support.ts";

const { values } = parseArgs({ options: { frames: { type: "string", default: "1000" }, requests: { type: "string", default: "40" }, rounds: { type: "string", default: "7" }, whole: { type: "boolean", default: false } } });
const F = Number(values.frames), N = Number(values.requests), ROUNDS = Number(values.rounds);

const perFrame = (fn: () => unknown) => cpuPerCall(fn, N, ROUNDS, F);

const steps = await stepsNode("kms-frame-steps-");
const { node, run } = steps;
const admin = { identity: steps.admin };
const ENCLAVE = "enclave-0000", KEY = "my-key-0000000001";
try {
  await run("/v1/kms", frames([frame(101, { name: ENCLAVE })]));
  await run(`/v1/kms/${ENCLAVE}`, frames([frame(201, { name: KEY })]));
  // The associated data the bench's load generator sends (60 bytes).
  const associated = new TextEncoder().encode(JSON.stringify({ "my-bucket": "my-bucket/my-object" }));
  const body = frames(Array.from({ length: F }, () => frame(207, { name: KEY, associated_data: associated })));

  const spec = COMMANDS.get(207)!;
  const parsed = parseFrames(body, F);
  const messages = parsed.map((f) => decode(spec.request, f.payload));
  const decoded: Decoded[] = messages.map((m) => validated(spec, m));
  const memo = new CallerMemo();
  const caller = memo.resolve(node, admin.identity, ENCLAVE).caller!;
  const ctx = { node, enclave: ENCLAVE, identity: admin.identity, caller, budget: undefined as never };
  const outs = decoded.map((d) => spec.run(ctx, d.req) as Record<string, unknown>);
  const payloads = outs.map((o) => encode(spec.response!, o));
  const replies = payloads.map((payload) => ({ id: 207, payload }));
  const master = randomBytes(32), binding = keyBinding(ENCLAVE, KEY);

  const rows: Array<[string, () => unknown]> = [
    ["whole request (route.begin → handle → end, observed)", () => run(`/v1/kms/${ENCLAVE}`, body)],
    ["parseFrames (a view per frame)", () => parseFrames(body, 10_000)],
    ["frameSpans (offsets)", () => frameSpans(body, 10_000)],
    ["protobufjs decode", () => { for (const f of parsed) decode(spec.request, f.payload); }],
    ["decodeIn (protobufjs, in place)", () => { for (const f of parsed) decodeIn(spec.request, body, f.payload.byteOffset, f.payload.byteOffset + f.payload.length); }],
    ["valibot validate", () => { for (const m of messages) validated(spec, m); }],
    ["authorize (every frame)", () => { for (const d of decoded) authorize(caller, spec.name, ENCLAVE, (d.req as { name: string }).name); }],
    ["reads (spec.reads per frame)", () => { for (const d of decoded) spec.reads!(ENCLAVE, d.req); }],
    ["execute (barrier, authorise, reads, run)", () => execute(node, admin.identity, ENCLAVE, () => Promise.resolve(decoded), undefined, memo)],
    ["run, awaited per frame", async () => { for (const d of decoded) await spec.run(ctx, d.req); }],
    ["run (lookups + crypto)", () => { for (const d of decoded) spec.run(ctx, d.req); }],
    ["crypto alone (crypto.dek's work)", () => { for (let i = 0; i < F; i++) encrypt("AES256", master, 1, randomBytes(32), associated, binding); }],
    ["protobufjs encode", () => { for (const o of outs) encode(spec.response!, o); }],
    ["encodeFrames (the join)", () => encodeFrames(replies)],
    ["encodeFrame into pieces (protobufjs + a copy)", () => {
      const pieces = new FramePieces();
      for (let i = 0; i < outs.length; i++) encodeFrame(pieces, 207, spec.response!, outs[i], outs.length - i);
      return pieces.finish();
    }],
  ];
  // --whole: only the whole request (for a profiler: `bun --cpu-prof scripts/frame-steps.ts --whole`).
  if (values.whole) rows.splice(1);
  for (const [, fn] of rows) for (let i = 0; i < 20; i++) await fn(); // warm every path first
  console.log(`µs of process CPU per frame (${F} frames a request), median of ${ROUNDS} rounds of ${N} (bun ${Bun.version})`);
  for (const [name, fn] of rows) console.log(`${(await perFrame(fn)).toFixed(3).padStart(8)}  ${name}`);
} finally {
  await steps.close();
}
