import os from "node:os";
import * as v from "valibot";
import { RPC } from "../../node/peers.ts";
import { PROOF_WINDOW_MS } from "../../node/admin-key.ts";
import { HostSchema } from "../../node/membership.ts";
import type { KmsNode } from "../../node/node.ts";
import { Errors } from "../../state/errors.ts";
import { command } from "./command.ts";
import { wireCommand } from "../../wire/commands.ts";
import { Bytes } from "./schemas.ts";
import { duration } from "../../wire/proto.ts";

const ROLES = { leader: "Leader", follower: "Follower", candidate: "Candidate", precandidate: "Candidate" } as const;

/** The ServerStatusResponse of this node. */
export function serverStatus(node: KmsNode) {
  const st = node.status();
  const mem = process.memoryUsage();
  const tick = node.info.tickMs;
  return {
    version: node.info.version,
    api_version: "v1",
    host: node.info.host,
    uptime: duration(Date.now() - node.info.startedAt),
    role: ROLES[st.role],
    commit: node.state.commit,
    nodes: Object.fromEntries(st.members.map((m) => [m.id, m.addr])),
    node_id: st.id,
    leader_id: st.leader,
    last_heartbeat: duration(Math.max(0, st.sinceLeader) * tick),
    heartbeat_interval: duration(tick),
    election_timeout: duration(node.info.electionTicks * tick),
    sys_os: os.platform(),
    sys_cpu_arch: os.arch(),
    sys_cpu_num: os.cpus().length,
    sys_cpu_used: os.cpus().length,
    sys_mem_heap_used: mem.heapUsed,
    sys_mem_stack_used: 0,
    // The configured HSM keys, and the one this node runs with ('kms ls-hsm' shows which node runs with which).
    hsm: [...node.state.hsmKeys.keys()],
    hsm_active: [node.keys.hsm.fingerprint],
  };
}

/** Every member's status, asked in parallel; members that do not answer quickly are down. */
export async function clusterStatus(node: KmsNode) {
  const up: Record<number, unknown> = { [node.status().id]: serverStatus(node) }, down: Record<number, string> = {};
  for (const a of await node.askMembers(RPC.status, 1_500)) {
    if (a.reply === undefined) down[a.id] = a.addr;
    else up[a.id] = a.reply;
  }
  return { nodes_up: up, nodes_down: down };
}

/** CLUSTER:* commands. */
export const clusterCommands = [
  command({
    ...wireCommand("CLUSTER:ADDNODE"), write: true,
    schema: v.object({ host: HostSchema }),
    run: (ctx, req) => ctx.node.addNode(req.host),
  }),
  command({
    ...wireCommand("CLUSTER:REMOVENODE"), write: true,
    schema: v.object({ host: HostSchema, delete_cluster_on_host: v.boolean() }),
    run: (ctx, req) => ctx.node.removeNode(req.host),
  }),
  command({
    ...wireCommand("CLUSTER:STATUS"),
    schema: v.object({}), write: false,
    run: (ctx) => clusterStatus(ctx.node),
  }),
  command({
    ...wireCommand("CLUSTER:EDIT"), write: true,
    schema: v.object({ host: v.union([v.literal(""), HostSchema]), remove: v.array(v.number()) }),
    run: (ctx, req) => ctx.node.editNode(req.host, req.remove),
  }),
  command({
    // A kms extension: disable the cluster's admin API key, or re-enable it with proof of an HSM key.
    ...wireCommand("CLUSTER:ADMINKEY"), write: true,
    schema: v.object({ enabled: v.boolean(), at: v.pipe(v.number(), v.integer(), v.minValue(0)), proof: Bytes }),
    run: (ctx, req) => {
      if (!req.enabled) return ctx.node.write({ type: "admin-key.set", enabled: false, at: Date.now(), by: ctx.identity });
      if (Math.abs(Date.now() - req.at) > PROOF_WINDOW_MS || !ctx.node.validAdminKeyProof(req.at, req.proof)) {
        throw Errors.refused("invalid proof: re-enabling the admin API key needs a fresh proof made with the HSM key ('kms admin-key enable')");
      }
      return ctx.node.write({ type: "admin-key.set", enabled: true, at: req.at, by: ctx.identity });
    },
  }),
];

/** Whether `identity` is the admin API key while it is disabled: it may then only re-enable itself, with proof. */
export function disabledAdmin(node: KmsNode, identity: string | undefined): boolean {
  return identity !== undefined && identity === node.info.adminIdentity && node.state.adminKey.disabled;
}
