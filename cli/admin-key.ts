import { readClusterId } from "../lib/server/admin-key.ts";
import { adminApiKey, adminKeyProof } from "../lib/node/admin-key.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { CONNECT_HELP, CONNECT_OPTIONS, connect } from "./connect.ts";
import { hsmFromEnv } from "./hsm.ts";
import { output } from "./output.ts";

/** The cluster named by a data directory (its cluster.id file) or by a cluster id itself. */
export function clusterOf(arg: string | undefined, what: string): string {
  if (!arg) throw new CliError(`${what}: pass the data directory (or the cluster id): the admin API key is per cluster`, 2);
  if (/^[0-9a-f]{32}$/.test(arg)) return arg;
  try {
    return readClusterId(arg);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** admin-key disable | enable DIR. */
export const adminKeyCommands: CliCommand[] = [
  {
    name: "admin-key",
    summary: "Disable the HSM-derived admin API key, or re-enable it with the HSM key",
    help: `Usage:
  kms admin-key disable       Refuse the HSM-derived admin API key on every node
  kms admin-key enable DIR    Accept it again (recovery); DIR is a node's data
                              directory, or pass the cluster id instead

disable needs a SysAdmin API key in MINIO_KMS_API_KEY, and a SysAdmin identity
stored in the cluster (so someone can still administer it). enable proves the
HSM key (MINIO_KMS_HSM_KEY) to the cluster: the admin API key alone cannot turn
itself back on. enable authenticates with MINIO_KMS_API_KEY when it is set, else
with the admin API key it derives.
${CONNECT_HELP}
  MINIO_KMS_HSM_KEY  The software HSM key (enable only)`,
    options: CONNECT_OPTIONS,
    positionals: [1, 2],
    async run(args: Args) {
      const [op, where] = args.positionals;
      if (op === "disable") {
        if (where) throw new CliError("disable takes no argument", 2);
        await connect(args).setAdminKey(false, 0, new Uint8Array());
        output(args, { admin_key: "disabled" }, () => "Disabled the admin API key on every node of the cluster");
        return;
      }
      if (op !== "enable") throw new CliError(`unknown admin-key command '${op}': use disable or enable`, 2);
      const hsm = hsmFromEnv();
      const cluster = clusterOf(where, "enable");
      const at = Date.now();
      const client = connect(args, process.env.MINIO_KMS_API_KEY || adminApiKey(hsm, cluster));
      await client.setAdminKey(true, at, adminKeyProof(hsm, cluster, at));
      output(args, { admin_key: "enabled" }, () => "Enabled the admin API key on every node of the cluster");
    },
  },
];
