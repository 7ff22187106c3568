import * as v from "valibot";
import { NameSchema } from "../../state/names.ts";
import { listable } from "../../state/policy.ts";
import { type Page, page } from "../../state/state.ts";
import type { CommandContext } from "./command.ts";

/** Request fields shared by many commands. */
export const Name = NameSchema;
export const Version = v.number();
export const Bytes = v.instance(Uint8Array);

/** ListRequest: prefix filter, continuation point, page size (0 = default). */
export const ListSchema = v.object({
  prefix: v.pipe(v.string(), v.maxLength(80, "invalid prefix: at most 80 characters")),
  continue_at: v.pipe(v.string(), v.maxLength(80, "invalid continue_at: at most 80 characters")),
  limit: v.number(),
});

/** Page size of list replies: the client's limit, capped. */
function pageSize(limit: number): number {
  return limit === 0 || limit > 1000 ? 1000 : limit;
}

/** One page of a listing command, showing the caller only what it may list. */
export function listPage<T>(ctx: CommandContext, command: string, entries: Map<string, T>, req: v.InferOutput<typeof ListSchema>): Page<T> {
  return page(entries, req.prefix, req.continue_at, pageSize(req.limit), (name) => listable(ctx.caller, command, name));
}
