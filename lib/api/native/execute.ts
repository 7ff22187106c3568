/**
 * How a batch of native commands runs for one caller: who they are, what
 * they may do, what they wait for, then the handlers. The native protocol
 * (route.ts) and the console's JSON API both go through here, so a command
 * is authorised the same way whichever door it came in by.
 */
import * as v from "valibot";
import { DecryptBudget } from "../../crypto/keyring.ts";
import { Errors } from "../../state/errors.ts";
import { nameProblem } from "../../state/names.ts";
import { authorize, type Caller } from "../../state/policy.ts";
import { Obj } from "../../node/pending.ts";
import type { KmsNode } from "../../node/node.ts";
import type { CommandContext, CommandSpec } from "./command.ts";
import { disabledAdmin } from "./cluster.ts";
import { CallerMemo } from "./caller-memo.ts";
import { TimeSlice } from "./slice.ts";
import { remember, rememberedOutput } from "./valid-memo.ts";

/** Most frames in one pipelined request. */
export const MAX_FRAMES = 10_000;
/**
 * AEAD opens one request may spend on decryption: two per frame covers a
 * ciphertext that names its version plus an imported key's KES fallback.
 */
export const DECRYPT_BUDGET = 2 * MAX_FRAMES;

/** A command and its validated request. */
export interface Decoded {
  readonly spec: CommandSpec;
  readonly req: unknown;
}

/** Validates a decoded request message against its command's schema; a problem is a 400 naming it. */
export function validated(spec: CommandSpec, message: unknown): Decoded {
  const known = rememberedOutput(spec.schema, message);
  if (known) return { spec, req: known };
  const r = v.safeParse(spec.schema, message);
  // The message names the field's problem; protocol and policy names would mean nothing to most people.
  if (!r.success) throw Errors.badRequest(`invalid request: ${r.issues[0].message}`);
  remember(spec.schema, message, r.output);
  return { spec, req: r.output };
}

/**
 * Runs `decode()`'s commands in `enclave` as `identity` and returns each
 * handler's output. Strangers are refused before the request is decoded;
 * every command is authorised before any runs and before anything is looked
 * up, so a denied caller learns nothing about what exists. A long batch
 * gives up the thread when `slice` says so (slice.ts); each frame is then
 * its own operation: after every pause the read barrier and the caller's
 * rights are checked again for the frames still to run, so a change
 * acknowledged meanwhile (a revoked policy, a deleted key) holds for them.
 * `memo` is the connection's (caller-memo.ts): the caller is resolved again
 * only when an entry was applied since its last request. With `sink`, each
 * output goes there as it is made instead of into the returned array.
 */
export async function execute(
  node: KmsNode, identity: string | undefined, enclave: string, decode: () => Promise<Decoded[]>, slice = new TimeSlice(),
  memo = new CallerMemo(), sink?: OutputSink,
): Promise<Array<Record<string, unknown> | void>> {
  // Strangers are refused before anything else, and learn nothing: they
  // wait only for pending changes to their own records (which could make them known).
  await node.readBarrier(memo.resolve(node, identity, enclave).reads);
  // A disabled admin API key may only re-enable itself (the command checks the HSM proof).
  const recovery = disabledAdmin(node, identity);
  const resolve = (): Caller | undefined =>
    recovery && disabledAdmin(node, identity) ? { identity: identity!, privilege: "SysAdmin" } : memo.resolve(node, identity, enclave).caller;
  let caller = resolve();
  if (!caller) throw Errors.accessDenied();
  // What the caller was resolved against: unless an entry is applied meanwhile, it cannot change.
  let seen = node.state, applied = seen.applied;
  const decoded = await decode();
  if (recovery && !(decoded.length === 1 && decoded[0].spec.name === "CLUSTER:ADMINKEY" && (decoded[0].req as { enabled: boolean }).enabled)) {
    throw Errors.accessDenied();
  }
  if (decoded.length > 1 && decoded.some((d) => d.spec.write)) {
    throw Errors.badRequest("invalid request: write commands cannot be pipelined");
  }
  authorizeAll(caller, decoded, enclave);
  // Then wait for pending changes to what the commands read, and nothing else:
  // crypto on one key never waits for a write to another.
  // An array: the barrier makes a set of it only when something is pending.
  const reads = [...memo.resolve(node, identity, enclave).reads];
  if (enclave && decoded.some((d) => d.spec.inEnclave)) reads.push(Obj.enclave(enclave));
  for (const d of decoded) {
    // A long batch takes turns here too; the caller is checked again below if anything was applied meanwhile.
    if (slice.due()) await slice.pass();
    const more = d.spec.reads?.(enclave, d.req);
    if (more) for (const o of more) reads.push(o);
  }
  await node.readBarrier(reads);
  // The caller's records may have changed while the request waited (the body's read, the barrier).
  if (node.state !== seen || seen.applied !== applied) {
    seen = node.state;
    applied = seen.applied;
    caller = resolve();
    if (!caller) throw Errors.accessDenied();
    authorizeAll(caller, decoded, enclave);
  }
  const budget = new DecryptBudget(DECRYPT_BUDGET);
  const inEnclave = decoded.some((d) => d.spec.inEnclave);
  let ctx: CommandContext = { node, enclave, identity: caller.identity, caller, budget };
  if (inEnclave) checkEnclave(ctx);
  const out: Array<Record<string, unknown> | void> = [];
  for (let i = 0; i < decoded.length; i++) {
    if (slice.due()) {
      await slice.pass();
      await node.readBarrier(reads);
      // Only an applied entry can change the caller's rights or the enclave: checking the frames
      // left again after every pause when none was made a long batch quadratic.
      if (node.state !== seen || seen.applied !== applied) {
        seen = node.state;
        applied = seen.applied;
        caller = resolve();
        if (!caller) throw Errors.accessDenied();
        authorizeAll(caller, decoded, enclave, i);
        ctx = { node, enclave, identity: caller.identity, caller, budget };
        if (inEnclave) checkEnclave(ctx);
      }
    }
    const d = decoded[i];
    // Awaited only when it is a promise: a turn of the microtask queue per frame cost ~0.25 µs, a tenth of a GENERATE.
    const r = d.spec.run(ctx, d.req);
    const o = r instanceof Promise ? await r : r;
    if (sink) sink(i, o);
    else out.push(o);
  }
  return out;
}

/**
 * Takes each frame's output as it is made, in order: a route that encodes
 * the reply as the frames run keeps no batch of outputs alive (execute then
 * returns none).
 */
export type OutputSink = (i: number, output: Record<string, unknown> | void) => void;

/** 403 unless `caller` may run every command (from the `from`th on). */
function authorizeAll(caller: Caller, decoded: readonly Decoded[], enclave: string, from = 0): void {
  let last: CommandSpec | undefined, lastOn: string | undefined, lastAlso: string | undefined;
  for (let i = from; i < decoded.length; i++) {
    const d = decoded[i];
    const on = d.spec.resource?.(d.req), also = d.spec.alsoOn?.(d.req);
    // A batch is mostly one command on one key: the same question has the same answer.
    if (d.spec === last && on === lastOn && also === lastAlso) continue;
    if (!authorize(caller, d.spec.name, d.spec.inEnclave ? enclave : "", on)) throw Errors.accessDenied();
    if (d.spec.alsoOn && !authorize(caller, d.spec.name, enclave, also)) throw Errors.accessDenied();
    last = d.spec;
    lastOn = on;
    lastAlso = also;
  }
}

/** Enclave-scoped commands need an existing enclave named by the path. */
function checkEnclave(ctx: CommandContext): void {
  if (ctx.enclave === "" || nameProblem(ctx.enclave)) throw Errors.enclaveNotFound();
  ctx.node.state.enclave(ctx.enclave);
}
