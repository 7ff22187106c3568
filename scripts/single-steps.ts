/**
 * In process, what each step of one single-op GENERATE request costs (µs):
 * a real node over a real store, with the audit trail (sealed, hash-chained,
 * written in groups) and the metrics on as a server starts them, and the
 * native raw route called directly (no network). Each step is also timed
 * alone, in the order the route runs it, over the same request.
 *
 *   bun scripts/single-steps.ts [--requests N] [--rounds R]
 */
import { parseArgs } from "node:util";
import { createRawRoute } from "../lib/api/app.ts";
import { COMMANDS } from "../lib/api/native/commands.ts";
import { CallerMemo } from "../lib/api/native/caller-memo.ts";
import { execute, validated } from "../lib/api/native/execute.ts";
import { framesReply } from "../lib/api/native/reply.ts";
import { endWatch, startWatch } from "../lib/api/observe.ts";
import { newNote } from "../lib/api/request-note.ts";
import { authorize } from "../lib/state/policy.ts";
import { encodeFrames, parseFrames } from "../lib/wire/frames.ts";
import { decode, encode } from "../lib/wire/proto.ts";
import { frame, frames } from "../tests/support/app.ts";
import { cpuPerCall, stepsNode } from "./steps-support.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "20000" }, rounds: { type: "string", default: "7" }, whole: { type: "boolean", default: false } } });
const N = Number(values.requests), ROUNDS = Number(values.rounds);

const time = (fn: () => unknown) => cpuPerCall(fn, N, ROUNDS);

const steps = await stepsNode("kms-steps-");
const { node, watching, run } = steps;
const admin = { identity: steps.admin };
try {
  const bare = createRawRoute({ node, console: false });
  const noAudit = createRawRoute({ node, ops: { ...watching.ops, audit: undefined }, console: false });
  await run("/v1/kms", frames([frame(101, { name: "e1" })]));
  await run("/v1/kms/e1", frames([frame(201, { name: "k1" })]));
  const body = frames([frame(207, { name: "k1", associated_data: new Uint8Array(0) })]);

  const spec = COMMANDS.get(207)!;
  const [f] = parseFrames(body, 1);
  const message = decode(spec.request, f.payload);
  const d = validated(spec, message);
  const memo = new CallerMemo();
  const caller = memo.resolve(node, admin.identity, "e1").caller!;
  const ctx = { node, enclave: "e1", identity: admin.identity, caller, budget: undefined as never };
  const out = (await spec.run(ctx, d.req)) as Record<string, unknown>;
  const payload = encode(spec.response!, out);
  const targets = { metrics: watching.ops.metrics, audit: watching.ops.audit, node: () => node.info.host };

  const rows: Array<[string, () => unknown]> = [
    ["whole request (route.begin → handle → end, observed)", () => run("/v1/kms/e1", body)],
    ["whole request, audit trail off", () => run("/v1/kms/e1", body, noAudit)],
    ["whole request, metrics and audit trail off", () => run("/v1/kms/e1", body, bare)],
    ["parseFrames", () => parseFrames(body, 10_000)],
    ["protobuf decode (reflection + toObject)", () => decode(spec.request, f.payload)],
    ["valibot validate", () => validated(spec, message)],
    ["caller memo + authorize", () => authorize(memo.resolve(node, admin.identity, "e1").caller!, spec.name, "e1", "k1")],
    ["read barrier (nothing pending)", () => node.readBarrier(["a", "b"])],
    ["execute (barrier, authorize, run)", () => execute(node, admin.identity, "e1", () => Promise.resolve([d]), undefined, memo)],
    ["run: state lookups + DEK crypto", () => spec.run(ctx, d.req)],
    ["protobuf encode (fromObject + encode)", () => encode(spec.response!, out)],
    ["encodeFrames + framesReply", () => framesReply(encodeFrames([{ id: 207, payload }]))],
    ["newNote (request id)", () => newNote()],
    ["observation: metrics + audit record (endWatch)", () => {
      const w = startWatch(targets, "/v1/kms/e1", newNote());
      w.note.enclave = "e1";
      w.note.commands.set("KEY:GENERATE", { id: "207", n: 1 });
      w.note.ops = 1;
      endWatch(targets, w, { method: "POST", status: 200, requestBytes: body.length, responseBytes: 126, identity: admin.identity, ip: "127.0.0.1" });
    }],
  ];
  // --whole: only the whole request (for a profiler: `bun --cpu-prof bench/steps.ts --whole`).
  if (values.whole) rows.splice(1);
  else rows.splice(3, 0, rows[0]); // the whole request again, after the others: the noise between the two
  // Warm every path first, then measure in order.
  for (const [, fn] of rows) for (let i = 0; i < 2000; i++) await fn();
  console.log(`µs of process CPU per call, median of ${ROUNDS} rounds of ${N} (bun ${Bun.version})`);
  for (const [name, fn] of rows) console.log(`${(await time(fn)).toFixed(2).padStart(8)}  ${name}`);
  // Let the trail's group writes catch up, so the next figure is not the flush of this one's.
  await new Promise((r) => setTimeout(r, 300));
} finally {
  await steps.close();
}
