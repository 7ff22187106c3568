/** add-access-key, rm-access-key, ls-access-key: AWS access keys for the AWS KMS API. */
import { serverUrl } from "../lib/client/client.ts";
import { type CliCommand } from "./command.ts";
import { confirm, FORCE_HELP, FORCE_OPTION } from "./confirm.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { ENCLAVE, ENCLAVE_HELP } from "./key.ts";
import { columns, output, table, time } from "./output.ts";
import { allPages } from "./pages.ts";

type AccessKey = { access_key_id: string; identity: string; created_at: unknown; created_by: string };

const HELP = `${ENCLAVE_HELP}\n${CONNECT_HELP}`;

/** The commands for AWS access keys. */
export const awsCommands: CliCommand[] = [
  {
    name: "add-access-key",
    summary: "Make an AWS access key for an identity (AWS KMS API)",
    help: `Usage: kms add-access-key [options] IDENTITY

Makes an AWS access key (id and secret) for IDENTITY, an identity of the
enclave, and prints both once: the server keeps the secret sealed and never
shows it again. AWS SDKs use it with the enclave's name as their region; the
identity's privilege and policy decide what the key may do.

${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const identity = args.positionals[0];
      const r = await connect(args).createAccessKey(enclave, identity);
      const endpoint = serverUrl((process.env.MINIO_KMS_SERVER ?? "").split(",")[0]);
      const caFile = (args.values.ca as string | undefined) ?? (process.env.KMS_CA || undefined);
      // boto3 reads AWS_DEFAULT_REGION and AWS_CA_BUNDLE; the JS SDK AWS_REGION and NODE_EXTRA_CA_CERTS.
      const trust = caFile ? [`  export AWS_CA_BUNDLE=${caFile} NODE_EXTRA_CA_CERTS=${caFile}`] : [];
      output(args, { ...r, identity, region: enclave, endpoint }, () =>
        [
          table([
            ["Access key id", String(r.access_key_id)],
            ["Secret access key", String(r.secret_access_key)],
            ["Identity", identity],
            ["Region", `${enclave} (the enclave)`],
          ]),
          "",
          "The secret is shown only now: keep it safe. For the AWS SDKs and CLI:",
          `  export AWS_ACCESS_KEY_ID=${r.access_key_id} AWS_SECRET_ACCESS_KEY=…`,
          `  export AWS_REGION=${enclave} AWS_DEFAULT_REGION=${enclave} AWS_ENDPOINT_URL_KMS=${endpoint}`,
          ...trust,
        ].join("\n"));
    },
  },
  {
    name: "rm-access-key",
    summary: "Remove an AWS access key",
    help: `Usage: kms rm-access-key [options] ACCESS_KEY_ID

Removes the access key: requests signed with it are refused from then on.
Asks for confirmation on a terminal; needs --force otherwise.

${FORCE_HELP}
${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...FORCE_OPTION },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const id = args.positionals[0];
      const client = connect(args);
      await confirm(args, `removes access key ${id} from enclave ${enclave}`);
      await client.deleteAccessKey(enclave, id);
      output(args, { access_key_id: id, enclave }, () => `Removed access key ${id} from enclave ${enclave}`);
    },
  },
  {
    name: "ls-access-key",
    summary: "List AWS access keys",
    help: `Usage: kms ls-access-key [options] [PREFIX]\n\nLists the enclave's access keys (never their secrets).\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: [0, 1],
    async run(args) {
      const client = connect(args);
      const enclave = enclaveOf(args);
      const keys = await allPages<AccessKey>((at) => client.listAccessKeys(enclave, args.positionals[0] ?? "", at), "access_keys");
      output(args, keys, () => columns(["ACCESS KEY ID", "IDENTITY", "CREATED"], keys.map((k) => [k.access_key_id, k.identity, time(k.created_at)])));
    },
  },
];
