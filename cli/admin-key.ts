import { credentialsOf, readClusterId } from "../lib/server/admin-key.ts";
import { adminApiKey, adminKeyProof } from "../lib/node/admin-key.ts";
import type { ClusterCredentials } from "../lib/node/credentials.ts";
import type { SoftHsm } from "../lib/hsm/soft.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { CONNECT_HELP, CONNECT_OPTIONS, connect } from "./connect.ts";
import { hsmFromEnv } from "./hsm.ts";
import { output } from "./output.ts";

/** The cluster of a node's data directory and its credentials, unsealed with `hsm` (the admin API key derives from them). */
export function clusterOf(dir: string | undefined, what: string, hsm: () => SoftHsm): { cluster: string; creds: ClusterCredentials } {
  if (!dir) throw new CliError(`${what}: pass a node's data directory: the admin API key is per cluster, sealed in it`, 2);
  try {
    const cluster = readClusterId(dir);
    return { cluster, creds: credentialsOf(dir, hsm()) };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }
}

/** admin-key disable | enable DIR. */
export const adminKeyCommands: CliCommand[] = [
  {
    name: "admin-key",
    summary: "Disable the cluster's admin API key, or re-enable it with the HSM key",
    help: `Usage:
  kms admin-key disable       Refuse the cluster's admin API key on every node
  kms admin-key enable DIR    Accept it again (recovery); DIR is a node's data
                              directory

disable needs a SysAdmin API key in MINIO_KMS_API_KEY, and a SysAdmin identity
stored in the cluster (so someone can still administer it). enable unseals
DIR with the HSM key (MINIO_KMS_HSM_KEY, any of the cluster's) and proves to the
cluster what it found there: the admin API key alone cannot turn itself back
on. enable authenticates with MINIO_KMS_API_KEY when it is set, else with the
admin API key it unsealed.
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
      const { cluster, creds } = clusterOf(where, "enable", hsmFromEnv);
      const at = Date.now();
      const client = connect(args, process.env.MINIO_KMS_API_KEY || adminApiKey(creds));
      await client.setAdminKey(true, at, adminKeyProof(creds, cluster, at));
      output(args, { admin_key: "enabled" }, () => "Enabled the admin API key on every node of the cluster");
    },
  },
];
