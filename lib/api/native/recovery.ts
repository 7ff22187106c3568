/**
 * kms extensions for recovery: the configured HSM keys (add, remove, list)
 * and deleted keys and enclaves kept for their recovery window (list,
 * undelete). Ids from 1002 (cluster), 1101 (enclave), 1203 (key; 1201 is KEY:DERIVE, 1202 KEY:REWRAP).
 */
import * as v from "valibot";
import { fingerprintOf } from "../../hsm/keys.ts";
import { Obj } from "../../node/pending.ts";
import { FingerprintSchema } from "../../state/commands.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors } from "../../state/errors.ts";
import type { DeletedItem } from "../../state/types.ts";
import { clusterStatus } from "./cluster.ts";
import { wireCommand } from "../../wire/commands.ts";
import { command } from "./command.ts";
import { timestamp } from "../../wire/proto.ts";
import { Bytes, Name } from "./schemas.ts";

const Key32 = v.pipe(Bytes, v.length(32, "invalid key: must be 32 bytes"));

/** Which members (node ids) run with each HSM key, as far as the members answer now. */
async function activeOn(node: Parameters<typeof clusterStatus>[0]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const { nodes_up } = await clusterStatus(node);
  for (const [id, st] of Object.entries(nodes_up)) {
    for (const fp of (st as { hsm_active?: string[] }).hsm_active ?? []) out.set(fp, [...(out.get(fp) ?? []), Number(id)]);
  }
  return out;
}

/** The DeletedStatus of a deleted item. */
function deletedStatus(d: DeletedItem) {
  return {
    id: d.id, kind: d.kind, enclave: d.enclave, name: d.name,
    versions: d.kind === "key" ? d.ring.versions.map((kv) => kv.version) : [],
    deleted_at: timestamp(d.deletedAt), deleted_by: d.deletedBy, purge_at: timestamp(d.purgeAt),
  };
}

/** HSM key and recovery commands. */
export const recoveryCommands = [
  command({
    ...wireCommand("CLUSTER:ADDHSM"), write: true,
    schema: v.pipe(
      v.object({ fingerprint: FingerprintSchema, public_key: Key32, join_ca: Key32, join_rpc: Key32 }),
      v.check((r) => fingerprintOf(r.public_key) === r.fingerprint, "invalid request: the fingerprint is not the public key's"),
    ),
    run: (ctx, req) =>
      ctx.node.write({
        type: "hsm.add", fingerprint: req.fingerprint, publicKey: encodeBase64(req.public_key),
        joinCa: encodeBase64(req.join_ca), joinRpc: encodeBase64(req.join_rpc), at: Date.now(), by: ctx.identity,
      }),
  }),
  command({
    ...wireCommand("CLUSTER:REMOVEHSM"), write: true,
    schema: v.object({ fingerprint: FingerprintSchema }),
    run: async (ctx, req) => {
      // A node still running with the key could not start again once it is gone: restart it with another first.
      const running = (await activeOn(ctx.node)).get(req.fingerprint) ?? [];
      if (running.length > 0) {
        throw Errors.conflict(`cannot remove HSM key ${req.fingerprint}: node ${running.join(", ")} runs with it; restart it with another configured key first`);
      }
      await ctx.node.write({ type: "hsm.remove", fingerprint: req.fingerprint });
    },
  }),
  command({
    ...wireCommand("CLUSTER:LISTHSM"), write: false,
    schema: v.object({}), reads: () => [Obj.hsmKeys],
    run: async (ctx) => {
      const active = await activeOn(ctx.node);
      const keys = [...ctx.node.state.hsmKeys.values()].sort((a, b) => a.createdAt - b.createdAt || a.fingerprint.localeCompare(b.fingerprint));
      return {
        keys: keys.map((k) => ({ fingerprint: k.fingerprint, created_at: timestamp(k.createdAt), created_by: k.createdBy, active_on: active.get(k.fingerprint) ?? [] })),
      };
    },
  }),
  command({
    ...wireCommand("CLUSTER:LISTDELETED"), write: false,
    schema: v.object({}), reads: () => [Obj.deleted],
    run: (ctx) => ({ items: [...ctx.node.state.deleted.values()].sort((a, b) => a.id - b.id).map(deletedStatus) }),
  }),
  command({
    ...wireCommand("ENCLAVE:UNDELETE"), write: true,
    schema: v.object({ name: Name }),
    run: (ctx, req) => ctx.node.write({ type: "enclave.undelete", name: req.name }),
  }),
  command({
    ...wireCommand("KEY:UNDELETE"), write: true,
    resource: (req) => req.name,
    schema: v.object({ name: Name }),
    run: (ctx, req) => ctx.node.write({ type: "key.undelete", enclave: ctx.enclave, name: req.name }),
  }),
];
