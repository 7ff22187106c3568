import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { clientCredentials, newApiKey, parseApiKey } from "../lib/identity/apikey.ts";
import { identityOfCertificate } from "../lib/identity/identity.ts";
import { adminApiKey } from "../lib/server/admin-key.ts";
import { clusterOf } from "./admin-key.ts";
import { type CliCommand, CliError } from "./command.ts";
import { output, table } from "./output.ts";
import { hsmFromEnv } from "./hsm.ts";

/** identity: the identity of an API key or certificate; --hsm for the admin key; `new` for a fresh key. */
export const identityCommands: CliCommand[] = [
  {
    name: "identity",
    summary: "Show the identity of an API key or certificate, or make a new API key",
    help: `Usage:
  kms identity [CERT_FILE]     Identity of a PEM certificate, or of $MINIO_KMS_API_KEY
  kms identity --hsm DIR       The admin API key of DIR's cluster (DIR: a node's data
                               directory, or the cluster id), from $MINIO_KMS_HSM_KEY
  kms identity new             A fresh API key and its identity

Options:
  --hsm          Print the admin API key and identity derived from MINIO_KMS_HSM_KEY
                 and the cluster
  --cert FILE    With 'new': also write a PEM client certificate to FILE
  --key FILE     With 'new': also write the PEM private key to FILE (mode 0600)
  --json         Print JSON`,
    options: { hsm: { type: "boolean" }, cert: { type: "string" }, key: { type: "string" } },
    positionals: [0, 1],
    async run(args) {
      const arg = args.positionals[0];
      if (args.values.hsm) {
        const hsm = hsmFromEnv();
        const apiKey = adminApiKey(hsm, clusterOf(arg, "identity --hsm"));
        const identity = parseApiKey(apiKey).identity;
        output(args, { api_key: apiKey, identity }, () => table([["API key", apiKey], ["Identity", identity], ["Privilege", "SysAdmin"]]));
        return;
      }
      if (arg === "new") {
        const apiKey = newApiKey();
        const key = parseApiKey(apiKey);
        const creds = clientCredentials(key);
        if (args.values.cert) writeFileSync(args.values.cert as string, creds.cert);
        if (args.values.key) writeFileSync(args.values.key as string, creds.key, { mode: 0o600 });
        output(args, { api_key: apiKey, identity: key.identity }, () => table([["API key", apiKey], ["Identity", key.identity]]));
        return;
      }
      let identity: string;
      if (arg) {
        if (!existsSync(arg)) throw new CliError(`${arg}: no such file (pass a PEM certificate file; API keys are read from MINIO_KMS_API_KEY)`);
        try {
          identity = identityOfCertificate(readFileSync(arg, "utf8"));
        } catch {
          throw new CliError(`${arg} is not a PEM certificate`);
        }
      } else {
        const apiKey = process.env.MINIO_KMS_API_KEY;
        if (!apiKey) throw new CliError("pass a certificate file, or set MINIO_KMS_API_KEY", 2);
        identity = parseApiKey(apiKey).identity;
      }
      output(args, { identity }, () => identity);
    },
  },
];
