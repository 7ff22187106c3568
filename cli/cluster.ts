import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS } from "./connect.ts";
import { columns, output } from "./output.ts";

type Status = { host: string; role: string; commit: number; leader_id: number };

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
      output(args, r, () => columns(["ID", "ADDRESS", "ROLE", "COMMIT", "STATE"], rows) + (leader ? "" : "\n(no leader: writes are unavailable)"));
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
to be up (use 'kms edit' to drop nodes that are gone for good).
${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const host = args.positionals[0];
      await connect(args).removeNode(host);
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
node that returns could serve stale reads. Repeat it on every survivor.

  --remove IDS   Comma-separated node ids to drop
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, remove: { type: "string" } },
    positionals: [0, 1],
    async run(args) {
      const ids = String(args.values.remove ?? "").split(",").filter(Boolean).map(Number);
      if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0)) throw new CliError("--remove needs node ids, e.g. --remove 1,2", 2);
      const host = args.positionals[0] ?? "";
      await connect(args).editCluster(host, ids);
      output(args, { host, removed: ids }, () => `Dropped node(s) ${ids.join(", ")} from the membership of ${host || "the node"}`);
    },
  },
];
