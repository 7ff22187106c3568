import * as v from "valibot";
import { NameSchema } from "../../state/names.ts";

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
export function pageSize(limit: number): number {
  return limit === 0 || limit > 1000 ? 1000 : limit;
}
