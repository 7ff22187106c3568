import os from "node:os";
import * as v from "valibot";
import type { KmsNode } from "../../server/node.ts";
import { command } from "./command.ts";
import { duration } from "./proto.ts";

/** The ServerStatusResponse of this node (a single-node cluster: it leads itself). */
export function serverStatus(node: KmsNode) {
  const mem = process.memoryUsage();
  return {
    version: node.info.version,
    api_version: "v1",
    host: node.info.host,
    uptime: duration(Date.now() - node.info.startedAt),
    role: "Leader",
    commit: node.state.commit,
    nodes: { 0: node.info.host },
    node_id: 0,
    leader_id: 0,
    last_heartbeat: duration(0),
    heartbeat_interval: duration(0),
    election_timeout: duration(0),
    sys_os: os.platform(),
    sys_cpu_arch: os.arch(),
    sys_cpu_num: os.cpus().length,
    sys_cpu_used: os.cpus().length,
    sys_mem_heap_used: mem.heapUsed,
    sys_mem_stack_used: 0,
    hsm: ["soft-hsm"],
    hsm_active: ["soft-hsm"],
  };
}

/** CLUSTER:* commands. */
export const clusterCommands = [
  command({
    id: 3, name: "CLUSTER:STATUS", request: "ClusterStatusRequest", response: "ClusterStatusResponse",
    schema: v.object({}), write: false, inEnclave: false,
    run: (ctx) => ({ nodes_up: { 0: serverStatus(ctx.node) }, nodes_down: {} }),
  }),
];
