import { readFileSync } from "node:fs";
import { HsmKeyError, SoftHsm } from "../lib/hsm/soft.ts";
import { joinSecretsOf } from "../lib/hsm/keys.ts";
import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS } from "./connect.ts";
import { columns, output, time } from "./output.ts";

type HsmKey = { fingerprint: string; created_at: unknown; created_by: string; active_on?: number[] };
type Deleted = { id: number; kind: string; enclave: string; name: string; versions?: number[]; deleted_at: unknown; deleted_by: string; purge_at: unknown };

const ENCLAVE_OPTION = { enclave: { type: "string", short: "e" } } as const;

/** The HSM key in FILE ('-': standard input), parsed; the key text is never printed. */
function hsmKeyFile(file: string): SoftHsm {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return SoftHsm.parse(text, file);
  } catch (err) {
    if (err instanceof HsmKeyError) throw new CliError(err.message);
    throw err;
  }
}

/** add-hsm, rm-hsm, ls-hsm, ls-deleted, undelete-key, undelete-enclave. */
export const recoveryCommands: CliCommand[] = [
  {
    name: "add-hsm",
    summary: "Configure another HSM key: every node seals its root key for it too",
    help: `Usage: kms add-hsm [options] FILE

Adds the HSM key in FILE ('-': standard input; make one with 'kms hsm new
--out FILE') to the cluster's HSM keys. Every node then seals its root key
for it too, so a node started with it unseals; backups made from then on open
with it. Only its public half and the secrets a fresh node started with it
trusts for joining leave this machine, never the key itself.

To rotate the HSM key of a running cluster: add the new key, restart the
nodes one at a time with it, then remove the old one with 'kms rm-hsm'.
${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const hsm = hsmKeyFile(args.positionals[0]);
      const join = joinSecretsOf(hsm);
      await connect(args).addHsm(hsm.fingerprint, hsm.publicKey, join.ca, join.rpc);
      output(args, { fingerprint: hsm.fingerprint }, () => `Added HSM key ${hsm.fingerprint}: every node now seals its root key for it too`);
    },
  },
  {
    name: "rm-hsm",
    summary: "Remove an HSM key: no node seals its root key for it any more",
    help: `Usage: kms rm-hsm [options] FINGERPRINT

Removes the HSM key FINGERPRINT ('kms ls-hsm' lists them) from the cluster's
HSM keys: every node reseals its root key without it, so once removed it
unseals no node's directory (nor backups made from then on). Refused while a
node still runs with it (restart that node with another key first), and for
the last key.
${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const fp = args.positionals[0];
      await connect(args).removeHsm(fp);
      output(args, { fingerprint: fp }, () => `Removed HSM key ${fp}: no node's root key is sealed for it any more`);
    },
  },
  {
    name: "ls-hsm",
    summary: "List the cluster's HSM keys and which nodes run with each",
    help: `Usage: kms ls-hsm [options]\n\nLists the configured HSM keys by fingerprint ('kms hsm check' shows a key's).\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 0,
    async run(args) {
      const keys = ((await connect(args).listHsm()).keys ?? []) as HsmKey[];
      output(args, keys, () =>
        columns(["FINGERPRINT", "ADDED", "ADDED BY", "NODES RUNNING WITH IT"],
          keys.map((k) => [k.fingerprint, time(k.created_at), k.created_by || "-", (k.active_on ?? []).join(",") || "-"])));
    },
  },
  {
    name: "ls-deleted",
    summary: "List deleted keys and enclaves that can still be brought back",
    help: `Usage: kms ls-deleted [options]

Lists deleted keys (or versions) and enclaves kept for their recovery window
(the server's --key-recovery-window), with when each is purged for good.
${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 0,
    async run(args) {
      const items = ((await connect(args).listDeleted()).items ?? []) as Deleted[];
      output(args, items, () =>
        columns(["KIND", "ENCLAVE", "NAME", "VERSIONS", "DELETED", "DELETED BY", "PURGED AT"],
          items.map((d) => [d.kind, d.enclave, d.kind === "enclave" ? "-" : d.name, (d.versions ?? []).join(",") || "all", time(d.deleted_at), d.deleted_by || "-", time(d.purge_at)])));
    },
  },
  {
    name: "undelete-key",
    summary: "Bring back a deleted key with all its deleted versions",
    help: `Usage: kms undelete-key [options] --enclave NAME KEY

Brings back every deleted version of KEY still in its recovery window, so
ciphertexts made with them decrypt again. Refused if a key of that name was
created again with a version of the same number.

Options:
  -e, --enclave NAME   Enclave of the key (default $MINIO_KMS_ENCLAVE)
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE_OPTION },
    positionals: 1,
    async run(args) {
      const enclave = (args.values.enclave as string | undefined) ?? process.env.MINIO_KMS_ENCLAVE ?? "";
      if (!enclave) throw new CliError("undelete-key needs --enclave NAME (or MINIO_KMS_ENCLAVE)", 2);
      const name = args.positionals[0];
      await connect(args).undeleteKey(enclave, name);
      output(args, { enclave, name }, () => `Brought back key ${name} in enclave ${enclave}`);
    },
  },
  {
    name: "undelete-enclave",
    summary: "Bring back a deleted enclave with its keys, identities and policies",
    help: `Usage: kms undelete-enclave [options] NAME\n\nBrings back the enclave NAME, deleted within its recovery window, with everything it held.\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const name = args.positionals[0];
      await connect(args).undeleteEnclave(name);
      output(args, { name }, () => `Brought back enclave ${name}`);
    },
  },
];

