import type { CliCommand } from "./command.ts";
import { confirm, FORCE_HELP, FORCE_OPTION } from "./confirm.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS } from "./connect.ts";
import { columns, output, table, time } from "./output.ts";
import { allPages } from "./pages.ts";

type Enclave = { name: string; created_at: unknown; created_by: string };

/** add-enclave, rm-enclave, stat-enclave, ls-enclave. */
export const enclaveCommands: CliCommand[] = [
  {
    name: "add-enclave",
    summary: "Create an enclave",
    help: `Usage: kms add-enclave [options] NAME\n\nCreates the enclave NAME (needs a SysAdmin API key).\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const name = args.positionals[0];
      await connect(args).createEnclave(name);
      output(args, { name }, () => `Created enclave ${name}`);
    },
  },
  {
    name: "rm-enclave",
    summary: "Delete an enclave and every key in it",
    help: `Usage: kms rm-enclave [options] NAME

Deletes the enclave NAME with all its keys, identities and policies. The
server keeps it for its recovery window (--key-recovery-window, default 7
days): until then 'kms undelete-enclave NAME' brings it back. Asks for
confirmation on a terminal; needs --force otherwise.

${FORCE_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...FORCE_OPTION },
    positionals: 1,
    async run(args) {
      const name = args.positionals[0];
      const client = connect(args);
      await confirm(args, `deletes enclave ${name} with every key, identity and policy in it`, async () => {
        const count = async (field: string, list: (at: string) => Promise<Record<string, unknown>>) => {
          try {
            return String((await allPages(list, field)).length);
          } catch {
            return "?";
          }
        };
        const [keys, ids, policies] = await Promise.all([
          count("keys", (at) => client.listKeys(name, "", at)),
          count("identities", (at) => client.listIdentities(name, "", at)),
          count("policies", (at) => client.listPolicies(name, "", at)),
        ]);
        return [`${keys} key(s), ${ids} identity(ies) and ${policies} polic(ies) go with it`];
      });
      await client.deleteEnclave(name);
      output(args, { name }, () => `Deleted enclave ${name}`);
    },
  },
  {
    name: "stat-enclave",
    summary: "Show an enclave",
    help: `Usage: kms stat-enclave [options] NAME\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: 1,
    async run(args) {
      const e = await connect(args).enclaveStatus(args.positionals[0]) as Enclave;
      output(args, e, () => table([["Name", e.name], ["Created", time(e.created_at)], ["Created by", e.created_by]]));
    },
  },
  {
    name: "ls-enclave",
    summary: "List enclaves",
    help: `Usage: kms ls-enclave [options] [PREFIX]\n\nLists the enclaves whose names start with PREFIX.\n${CONNECT_HELP}`,
    options: CONNECT_OPTIONS,
    positionals: [0, 1],
    async run(args) {
      const client = connect(args);
      const all = await allPages<Enclave>((at) => client.listEnclaves(args.positionals[0] ?? "", at), "enclaves");
      output(args, all, () => columns(["NAME", "CREATED", "CREATED BY"], all.map((e) => [e.name, time(e.created_at), e.created_by])));
    },
  },
];
