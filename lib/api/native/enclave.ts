import * as v from "valibot";
import type { EnclaveRecord } from "../../state/types.ts";
import { timestamp } from "../../wire/proto.ts";
import { Obj } from "../../node/pending.ts";
import { command } from "./command.ts";
import { wireCommand } from "../../wire/commands.ts";
import { ListSchema, listPage, Name } from "./schemas.ts";

const ByName = v.object({ name: Name });

/** The EnclaveStatusResponse of an enclave. */
function status(e: EnclaveRecord) {
  return { name: e.name, created_at: timestamp(e.createdAt), created_by: e.createdBy };
}

/** ENCLAVE:* commands (101–104). */
export const enclaveCommands = [
  command({
    ...wireCommand("ENCLAVE:CREATE"), schema: ByName, write: true,
    run: (ctx, req) => ctx.node.write({ type: "enclave.create", name: req.name, at: Date.now(), by: ctx.identity }),
  }),
  command({
    ...wireCommand("ENCLAVE:DELETE"), schema: ByName, write: true,
    run: (ctx, req) => ctx.node.write({ type: "enclave.delete", name: req.name, ...ctx.node.deletionStamp(ctx.identity) }),
  }),
  command({
    ...wireCommand("ENCLAVE:STATUS"),
    schema: ByName, write: false, reads: (_, req) => [Obj.enclave(req.name)],
    run: (ctx, req) => status(ctx.node.state.enclave(req.name).record),
  }),
  command({
    ...wireCommand("ENCLAVE:LIST"),
    schema: ListSchema, write: false, reads: () => [Obj.enclaves],
    run: (ctx, req) => {
      const p = listPage(ctx, "ENCLAVE:LIST", ctx.node.state.enclaves, req);
      return { enclaves: p.items.map((e) => status(e.record)), continue_at: p.continueAt };
    },
  }),
];
