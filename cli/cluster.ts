import type { CliCommand } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS } from "./connect.ts";
import { columns, output } from "./output.ts";

type Status = { host: string; role: string; commit: number; leader_id: number };

/** ls: the cluster's nodes. */
export const clusterCommands: CliCommand[] = [
  {
    name: "ls",
    summary: "List the cluster's nodes",
    help: `Usage: kms ls [options]\n\nLists every node of the cluster with its role and state.\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 0,
    async run(args) {
      const r = await connect(args).clusterStatus();
      const up = Object.entries(r.nodes_up as Record<string, Status>);
      const down = Object.entries(r.nodes_down as Record<string, string>);
      const rows = [
        ...up.map(([id, s]) => [id, s.host, s.role, String(s.commit), "up"]),
        ...down.map(([id, host]) => [id, host, "-", "-", "down"]),
      ].sort((a, b) => Number(a[0]) - Number(b[0]));
      output(args, r, () => columns(["ID", "ADDRESS", "ROLE", "COMMIT", "STATE"], rows));
    },
  },
];
