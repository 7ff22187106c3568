import { type CliCommand, CliError } from "./command.ts";
import { confirm, FORCE_HELP, FORCE_OPTION } from "./confirm.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS } from "./connect.ts";
import { columns, output } from "./output.ts";

type Status = { host: string; role: string; commit: number; leader_id: number };

/** Whether the cluster takes writes: they need a leader and every node up. */
function writability(leader: Status | undefined, down: string[]): { ok: boolean; text: string } {
  if (down.length) return { ok: false, text: `unavailable: node ${down.join(", ")} ${down.length > 1 ? "are" : "is"} down (writes need every node; reads and crypto still work)` };
  if (!leader) return { ok: false, text: "unavailable: there is no leader (an election is under way)" };
  return { ok: true, text: "possible (every node is up)" };
}

/** ls, add, rm, edit: the cluster's nodes. */
export const clusterCommands: CliCommand[] = [
  {
    name: "ls",
    summary: "List the cluster's nodes",
    help: `Usage: kms ls [options]\n\nLists every node of the cluster with its role and state, as seen from\nthe node MINIO_KMS_SERVER names.\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 0,
    async run(args) {
      const r = await connect(args).clusterStatus();
      const up = Object.entries(r.nodes_up as Record<string, Status>);
      const down = Object.entries(r.nodes_down as Record<string, string>);
      const leader = up.map(([, s]) => s).find((s) => s.role === "Leader");
      const rows = [
        ...up.map(([id, s]) => [id, s.host, s.role, String(s.commit), "up"]),
        ...down.map(([id, host]) => [id, host, "-", "-", "down"]),
      ].sort((a, b) => Number(a[0]) - Number(b[0]));
      const writes = writability(leader, down.map(([id]) => id));
      output(args, { ...r, writable: writes.ok }, () => `${columns(["ID", "ADDRESS", "ROLE", "COMMIT", "STATE"], rows)}\n\nWrites: ${writes.text}`);
    },
  },
  {
    name: "add",
    summary: "Add a fresh node to the cluster",
    help: `Usage: kms add [options] HOST:PORT

Adds the server at HOST:PORT to the cluster. It must be a fresh server (no
enclaves, keys or other state yet) started with the same MINIO_KMS_HSM_KEY;
it receives the whole state and is a member once it is in sync. HOST:PORT is
the address the other nodes dial to reach it. Needs every node to be up.
${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const host = args.positionals[0];
      await connect(args).addNode(host);
      output(args, { host }, () => `Added ${host} to the cluster`);
    },
  },
  {
    name: "rm",
    summary: "Remove a node from the cluster",
    help: `Usage: kms rm [options] HOST:PORT

Removes the node at HOST:PORT from the cluster. The removed node stops
serving; wipe its data directory before using it again. Needs every node
to be up (use 'kms edit' to drop nodes that are gone for good). Asks for
confirmation on a terminal; needs --force otherwise.

${FORCE_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...FORCE_OPTION },
    positionals: 1,
    async run(args) {
      const host = args.positionals[0];
      const client = connect(args);
      await confirm(args, `removes node ${host} from the cluster (it stops serving; wipe its data directory before reusing it)`, async () => {
        const r = await client.clusterStatus().catch(() => undefined);
        if (!r) return [];
        const ids = [...Object.entries(r.nodes_up as Record<string, Status>).map(([id, s]) => [id, s.host]), ...Object.entries(r.nodes_down as Record<string, string>)];
        const left = ids.filter(([, h]) => h !== host).length;
        return [`${ids.length} node(s) now; ${left} remain after it`];
      });
      await client.removeNode(host);
      output(args, { host }, () => `Removed ${host} from the cluster`);
    },
  },
  {
    name: "edit",
    summary: "Repair: drop dead nodes from one node's membership (dangerous)",
    help: `Usage: kms edit [options] --remove ID[,ID…] [HOST:PORT]

DANGEROUS repair for a cluster that lost nodes for good: drops the nodes with
the given ids (see 'kms ls') from the membership of the node at HOST:PORT
(default: the node MINIO_KMS_SERVER names), without asking the others. Only
use it for nodes that will never come back with their old data: a dropped
node that returns could serve stale reads. Repeat it on every survivor. Asks
for confirmation on a terminal; needs --force otherwise.

  --remove IDS        Comma-separated node ids to drop
${FORCE_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...FORCE_OPTION, remove: { type: "string" } },
    positionals: [0, 1],
    async run(args) {
      const raw = String(args.values.remove ?? "").split(",").filter(Boolean);
      const ids = raw.map(Number);
      if (ids.length === 0 || raw.some((t) => !/^\d+$/.test(t.trim()))) throw new CliError("--remove needs node ids, e.g. --remove 1,2", 2);
      const host = args.positionals[0] ?? "";
      const client = connect(args);
      await confirm(args, `drops node(s) ${ids.join(", ")} from the membership of ${host || "the node MINIO_KMS_SERVER names"}, without asking the others`, async () => {
        const r = await client.clusterStatus().catch(() => undefined);
        const known = { ...(r?.nodes_down as Record<string, string> ?? {}), ...Object.fromEntries(Object.entries(r?.nodes_up as Record<string, Status> ?? {}).map(([id, s]) => [id, s.host])) };
        return [
          ...ids.map((id) => `node ${id}: ${known[id] ?? "not a member the node knows"}${r && String(id) in (r.nodes_up as object) ? " (it is UP: dropping a live node is wrong)" : ""}`),
          "only for nodes that will never come back with their old data",
        ];
      });
      await client.editCluster(host, ids);
      output(args, { host, removed: ids }, () => `Dropped node(s) ${ids.join(", ")} from the membership of ${host || "the node"}`);
    },
  },
];
