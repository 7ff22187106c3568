/** `kms stat`, `kms metrics` and `kms restart`: one node's status and figures, and restarts. */
import { type KmsClient, KmsClientError } from "../lib/client/client.ts";
import { type CliCommand, CliError } from "./command.ts";
import { configuredServers, CONNECT_HELP, CONNECT_OPTIONS, connect } from "./connect.ts";
import { output, table } from "./output.ts";
import type { Args } from "./command.ts";

/** The node a per-node command talks to: its argument, else the first of MINIO_KMS_SERVER. */
function nodeOf(args: Args): string {
  const server = args.positionals[0] ?? configuredServers()[0];
  if (!server) throw new CliError("MINIO_KMS_SERVER is not set: export MINIO_KMS_SERVER=host:port (or name the node: kms stat HOST:PORT)");
  return server;
}

/** Runs `fn` with a client of the one node the command names, closed afterwards. */
async function withNode(args: Args, fn: (client: KmsClient) => Promise<void>): Promise<void> {
  const client = connect(args, undefined, { servers: [nodeOf(args)] });
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** "1h 2m 3s" from seconds. */
export function span(seconds: number): string {
  const s = Math.floor(seconds);
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]] as const;
  const shown = parts.filter(([n], i) => n > 0 || i === parts.length - 1).map(([n, u]) => `${n}${u}`);
  return shown.slice(0, 2).join(" ");
}

/** A /v1/debug/stat reply for people. */
export function statText(s: Record<string, any>): string {
  const rows: [string, string][] = [
    ["Node", `${s.node_id} (${s.host})`],
    ["Version", s.version],
    ["Role", `${s.role}${s.leader_id >= 0 && s.role !== "Leader" ? ` (leader: node ${s.leader_id})` : ""}; ${s.members} node${s.members === 1 ? "" : "s"}`],
    ["Uptime", `${span(s.uptime_seconds)} (since ${s.started_at})`],
    ["Commit", `${s.commit} state changes (log applied to ${s.applied})`],
    ["Serving reads", s.serving_reads ? "yes" : "no"],
    ["HSM", (s.hsm as string[]).join(", ")],
    ["Memory", `${mib(s.memory.rss_bytes)} resident, ${mib(s.memory.heap_used_bytes)} of JavaScript heap in use`],
    ["CPU", `${s.cpu.cores} cores; ${s.cpu.user_seconds.toFixed(1)} s user, ${s.cpu.system_seconds.toFixed(1)} s system; load ${(s.cpu.load_average as number[]).map((l) => l.toFixed(2)).join(" ")}`],
    ["Connections", String(s.connections)],
    ["Audit", s.audit ? `${s.audit.records} records${s.audit.trail ? `; trail at seq ${s.audit.trail.seq} (head ${String(s.audit.trail.hash).slice(0, 16)}…)` : "; no trail"}` : "off"],
    ["Metrics", s.metrics ? "on" : "off"],
  ];
  return table(rows);
}

/** Waits until `server` runs a new process (its start time changed) that serves reads. */
async function backAgain(args: Args, server: string, startedAt: string, withinMs = 120_000): Promise<Record<string, any>> {
  const client = connect(args, undefined, { servers: [server], timeoutMs: 2_000 });
  const deadline = Date.now() + withinMs;
  try {
    for (;;) {
      const s = await client.json("GET", "/v1/debug/stat").catch(() => undefined);
      if (s && s.started_at !== startedAt && s.serving_reads) return s;
      if (Date.now() > deadline) throw new CliError(`${server} did not come back within ${withinMs / 1000} s: check its log`);
      await new Promise((r) => setTimeout(r, 250)); // polling a remote process: bounded by the deadline above
    }
  } finally {
    client.close();
  }
}

/** stat, metrics and restart. */
export const statCommands: CliCommand[] = [
  {
    name: "stat",
    summary: "Show one node's status: version, role, uptime, commit, HSM, memory, CPU, connections",
    help: `Usage: kms stat [HOST:PORT]

Shows the status of one node (default: the first of MINIO_KMS_SERVER). Needs
a SysAdmin, or an identity whose policy allows SYS:METRICS.
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS },
    positionals: [0, 1],
    run: (args) => withNode(args, async (client) => {
      const s = await client.json("GET", "/v1/debug/stat");
      output(args, s, () => statText(s));
    }),
  },
  {
    name: "metrics",
    summary: "Print one node's Prometheus metrics",
    help: `Usage: kms metrics [HOST:PORT]

Prints the node's metrics in Prometheus's text format, as Prometheus scrapes
them from /v1/health/metrics (default node: the first of MINIO_KMS_SERVER).
Needs a SysAdmin, or an identity whose policy allows SYS:METRICS.
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS },
    positionals: [0, 1],
    run: (args) => withNode(args, async (client) => void process.stdout.write(await client.text("/v1/health/metrics"))),
  },
  {
    name: "restart",
    summary: "Restart the cluster one node at a time, or one node (--self)",
    help: `Usage: kms restart [--self] [HOST:PORT]

Restarts every node of the cluster, one at a time: each stops gracefully and
starts again as the same program (a binary replaced on disk is the one that
starts: this is how an upgrade rolls). The next node goes only once the
previous one serves reads again, so reads never stop; writes pause while the
leader restarts. The node asked (default: the first of MINIO_KMS_SERVER)
restarts last. With --self only that node restarts. Needs a SysAdmin.

Options:
  --self               Restart only the node asked
${CONNECT_HELP}`,
    options: { self: { type: "boolean" }, ...CONNECT_OPTIONS },
    positionals: [0, 1],
    async run(args) {
      const server = nodeOf(args);
      const client = connect(args, undefined, { servers: [server], timeoutMs: 10 * 60_000 });
      const started = Date.now();
      try {
        const before = await client.json("GET", "/v1/debug/stat");
        const reply = await client.json("POST", args.values.self ? "/v1/debug/restart?self" : "/v1/debug/restart") as {
          restarted: Array<{ id: number; host: string; seconds: number }>;
        };
        if (!args.values.json) for (const r of reply.restarted) console.log(`Restarted node ${r.id} (${r.host}) in ${r.seconds.toFixed(1)} s`);
        const after = await backAgain(args, server, before.started_at as string);
        const seconds = (Date.now() - started) / 1000;
        output(args, { restarted: [...reply.restarted, { id: after.node_id, host: after.host, seconds }] }, () =>
          `Restarted node ${after.node_id} (${after.host})${reply.restarted.length ? " last" : ""}; ${reply.restarted.length + 1} node${reply.restarted.length ? "s" : ""} in ${seconds.toFixed(1)} s`);
      } catch (err) {
        if (err instanceof KmsClientError && err.status === 501) throw new CliError(`${server}: ${err.message}`);
        throw err;
      } finally {
        client.close();
      }
    },
  },
];
