/**
 * The console's commands: the native protocol's own command specs, called
 * by name with JSON instead of protobuf frames. A request's JSON is turned
 * into the protobuf message and back (so it reaches the handler exactly as a
 * decoded frame would), and a reply goes out as the protobuf reply's fields,
 * bytes in base64.
 */
import * as v from "valibot";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors } from "../../state/errors.ts";
import { Obj } from "../../node/pending.ts";
import { command, type CommandSpec } from "../native/command.ts";
import { COMMANDS } from "../native/commands.ts";
import { type Decoded, validated } from "../native/execute.ts";
import { keyStatus } from "../native/key.ts";
import { decode, encode } from "../../wire/proto.ts";
import { Name } from "../native/schemas.ts";

/**
 * Views only the console needs, each under the policy name of the native
 * command whose data it shows, so it is authorised exactly like that command.
 */
const VIEWS: Readonly<Record<string, CommandSpec>> = {
  // Every version of a key: what KEY:STATUS shows of each.
  "KEY:VERSIONS": command({
    id: 0, name: "KEY:STATUS", request: "KeyStatusRequest", write: false, inEnclave: true,
    schema: v.object({ name: Name }),
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    run: (ctx, req) => {
      const ring = ctx.node.state.keyRing(ctx.enclave, req.name);
      return { name: ring.name, versions: ring.versions.map((kv) => keyStatus(ring, kv)) };
    },
  }),
};

const BY_NAME: ReadonlyMap<string, CommandSpec> = new Map([
  ...[...COMMANDS.values()].map((c): [string, CommandSpec] => [c.name, c]),
  ...Object.entries(VIEWS),
]);

/** A console call: a command by name, the enclave it runs in ("" for cluster commands), its request. */
export const CallSchema = v.strictObject({
  command: v.pipe(v.string(), v.regex(/^[A-Z]+:[A-Z]+$/, "invalid request: command names look like KEY:STATUS")),
  enclave: v.optional(v.pipe(v.string(), v.maxLength(80, "invalid request: enclave names have at most 80 characters")), ""),
  request: v.optional(v.record(v.string(), v.unknown()), {}),
});
export type Call = v.InferOutput<typeof CallSchema>;

/** The spec a call names; 400 for names that are not commands. */
export function specOf(name: string): CommandSpec {
  const spec = BY_NAME.get(name);
  if (!spec) throw Errors.badRequest(`invalid request: unknown command ${name}`);
  return spec;
}

/** The call's request as its handler gets it: through the protobuf message, then the command's schema. */
export function decodeCall(spec: CommandSpec, request: Record<string, unknown>): Decoded {
  let message: Record<string, unknown>;
  try {
    message = decode(spec.request, encode(spec.request, request));
  } catch (err) {
    // protobufjs names the field and what it expected; never a value.
    throw Errors.badRequest(`invalid request: ${(err as Error).message}`);
  }
  return validated(spec, message);
}

/** A handler's output as JSON: the protobuf reply's fields (all of them), bytes as base64. */
export function replyJson(spec: CommandSpec, out: Record<string, unknown> | void): unknown {
  if (!out) return {};
  return toJson(spec.response ? decode(spec.response, encode(spec.response, out)) : out);
}

function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return encodeBase64(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, toJson(x)]));
  return value;
}

/** Every command's name, and whether a policy can grant it (for the policy editor). */
export function commandList(): Array<{ name: string; grantable: boolean; write: boolean }> {
  return [...COMMANDS.values()].map((c) => ({ name: c.name, grantable: c.inEnclave, write: c.write }));
}
