import path from "node:path";
import { ConfigError } from "../lib/edge/config.ts";
import { type RunningEdge, startEdge } from "../lib/edge/server.ts";
import { kesHexOf } from "../lib/identity/kes.ts";
import { VERSION } from "../lib/version.ts";
import { type CliCommand, CliError } from "./command.ts";
import { LIMIT_OPTIONS, LIMITS_HELP, limitsOf } from "./limits.ts";
import { table } from "./output.ts";
import { addressFlag } from "./server.ts";

/** edge: the stateless KES-compatible server. */
export const edgeCommands: CliCommand[] = [
  {
    name: "edge",
    summary: "Start a stateless KES-compatible server in front of a key store",
    help: `Usage: kms edge --config FILE [--addr [HOST]:PORT]

Serves the KES API with master keys kept in an external key store (fs, vault,
aws.secretsmanager or another kms cluster), configured by a KES config file.
The same file that works with KES works here; \${VAR} in any value is replaced
by the environment variable VAR. SIGHUP reloads the config (policies, admin,
cache, logging, TLS certificate).

Options:
  --config FILE        The KES-style YAML config (required)
  --addr [HOST]:PORT   Listen address (default: the config's address, else 0.0.0.0:7373)
${LIMITS_HELP}

See the README's "Edge mode and KES" section for a complete config.`,
    options: { config: { type: "string", short: "c" }, addr: { type: "string" }, ...LIMIT_OPTIONS },
    positionals: 0,
    async run(args) {
      const file = args.values.config as string | undefined;
      if (!file) throw new CliError("edge: --config FILE is required", 2);
      if (args.values.addr !== undefined) addressFlag(args.values.addr as string, "--addr");
      let edge: RunningEdge;
      try {
        edge = await startEdge({ configFile: path.resolve(file), address: args.values.addr as string | undefined, limits: limitsOf(args) });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`address already in use: ${args.values.addr ?? "the config's address"}`);
        throw new CliError((err as Error).message);
      }
      const cfg = edge.config();
      console.log(table([
        ["Version", VERSION],
        ["Config", path.resolve(file)],
        ...edge.urls.map((u, i): [string, string] => [i === 0 ? "Listening on" : "", u]),
        ["Key store", edge.store],
        ["Admin identity", cfg.admin ? kesHexOf(cfg.admin) : "disabled"],
        ["Policies", [...cfg.policies.keys()].join(", ") || "none"],
      ]));
      const onHup = async () => {
        try {
          const notes = await edge.reload();
          console.log(`kms edge: reloaded ${path.resolve(file)}${notes.length ? ` (${notes.join("; ")})` : ""}`);
        } catch (err) {
          console.error(`kms edge: reload failed, keeping the previous config: ${(err as Error).message}`);
        }
      };
      process.on("SIGHUP", onHup);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      process.off("SIGHUP", onHup);
      await edge.close();
      console.log("kms edge: stopped");
      return 0;
    },
  },
];
