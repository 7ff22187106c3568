import { readFileSync } from "node:fs";
import YAML from "yaml";
import { AWS_ONLY_COMMANDS } from "../lib/api/aws/actions.ts";
import { WIRE_COMMANDS } from "../lib/wire/commands.ts";
import { parsePolicyText, PolicyFileError } from "../lib/state/policy-file.ts";
import { type CliCommand, CliError, enumFlag } from "./command.ts";
import { confirm, FORCE_HELP, FORCE_OPTION } from "./confirm.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { ENCLAVE, ENCLAVE_HELP } from "./key.ts";
import { columns, output, table, time } from "./output.ts";
import { allPages } from "./pages.ts";

type Identity = {
  identity: string; privilege: number; policy: string; created_at: unknown; created_by: string;
  is_service_account: boolean; service_accounts: string[]; tags: Record<string, string>;
};
type Policy = { name: string; created_at: unknown; created_by: string };
type RuleSets = Record<string, { rules: Record<string, unknown> }>;

const PRIVILEGES = ["", "SysAdmin", "Admin", "User"];
const PRIVILEGE_NAMES = PRIVILEGES.slice(1);
const HELP = `${ENCLAVE_HELP}\n${CONNECT_HELP}`;

/** What each command lets a policy holder do, for `kms ls-commands`; the names are the server's own. */
const COMMAND_HELP: Readonly<Record<string, string>> = {
  "KEY:CREATE": "create a key, or add a version to it (add-key)",
  "KEY:IMPORT": "import key material (import-key, migrate)",
  "KEY:DELETE": "delete a key or a version (rm-key)",
  "KEY:STATUS": "show a key (stat-key)",
  "KEY:LIST": "list keys (ls-key)",
  "KEY:ENCRYPT": "encrypt (encrypt)",
  "KEY:DECRYPT": "decrypt (decrypt)",
  "KEY:GENERATE": "generate a data key (keygen)",
  "KEY:MAC": "compute a MAC (mac)",
  "KEY:DERIVE": "derive key material for a service such as kms edge (not a MAC)",
  "KEY:UNDELETE": "bring back a deleted key in its recovery window (undelete-key)",
  "KEY:REWRAP": "re-encrypt a ciphertext to a key's latest version or another key (rewrap; AWS ReEncrypt)",
  ...AWS_ONLY_COMMANDS,
  "ACCESSKEY:CREATE": "make an AWS access key for an identity (add-access-key)",
  "ACCESSKEY:DELETE": "remove an AWS access key (rm-access-key)",
  "ACCESSKEY:LIST": "list AWS access keys (ls-access-key)",
  "POLICY:CREATE": "create or replace a policy (add-policy)",
  "POLICY:DELETE": "delete a policy (rm-policy)",
  "POLICY:ASSIGN": "assign a policy to an identity (assign-policy)",
  "POLICY:GET": "show a policy's rules (show-policy)",
  "POLICY:STATUS": "show a policy (stat-policy)",
  "POLICY:LIST": "list policies (ls-policy)",
  "IDENTITY:CREATE": "add an identity (add-identity)",
  "IDENTITY:DELETE": "remove an identity (rm-identity)",
  "IDENTITY:STATUS": "show an identity (stat-identity)",
  "IDENTITY:LIST": "list identities (ls-identity)",
  "ENCLAVE:CREATE": "create an enclave (add-enclave)",
  "ENCLAVE:DELETE": "delete an enclave (rm-enclave)",
  "ENCLAVE:STATUS": "show an enclave (stat-enclave)",
  "ENCLAVE:LIST": "list enclaves (ls-enclave)",
  "CLUSTER:ADDNODE": "add a node (add)",
  "CLUSTER:REMOVENODE": "remove a node (rm)",
  "CLUSTER:STATUS": "show the nodes (ls)",
  "CLUSTER:EDIT": "drop dead nodes (edit)",
  "CLUSTER:ADMINKEY": "disable or re-enable the cluster's admin API key (admin-key)",
  "CLUSTER:ADDHSM": "configure another HSM key (add-hsm)",
  "CLUSTER:REMOVEHSM": "remove an HSM key (rm-hsm)",
  "CLUSTER:LISTHSM": "list the HSM keys (ls-hsm)",
  "CLUSTER:LISTDELETED": "list deleted keys and enclaves still recoverable (ls-deleted)",
  "ENCLAVE:UNDELETE": "bring back a deleted enclave in its recovery window (undelete-enclave)",
};

/** Every command name, and the ones a policy can grant (cluster and enclave commands are SysAdmin-only). */
export function policyCommands(): { all: string[]; grantable: string[] } {
  const all: string[] = [...WIRE_COMMANDS.keys()];
  const aws = Object.keys(AWS_ONLY_COMMANDS); // in-enclave, AWS API only
  return { all: [...all, ...aws], grantable: [...[...WIRE_COMMANDS.values()].filter((c) => c.inEnclave).map((c) => c.name), ...aws] };
}

/** Reads a policy file (JSON or YAML) into command → patterns for allow and deny. */
export function readPolicyFile(file: string): { allow: Record<string, string[]>; deny: Record<string, string[]> } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read policy ${file}: ${(err as Error).message}`);
  }
  try {
    return parsePolicyText(text, file, policyCommands());
  } catch (err) {
    if (err instanceof PolicyFileError) throw new CliError(err.message);
    throw err;
  }
}

/** Parses repeated --tag key=value flags. */
function tags(values: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of (values as string[] | undefined) ?? []) {
    const at = t.indexOf("=");
    if (at <= 0) throw new CliError(`--tag must be KEY=VALUE, got '${t}'`, 2);
    out[t.slice(0, at)] = t.slice(at + 1);
  }
  return out;
}

function rulesOf(sets: RuleSets): Record<string, string[]> {
  return Object.fromEntries(Object.entries(sets ?? {}).map(([cmd, s]) => [cmd, Object.keys(s.rules ?? {})]));
}

/** add-identity, rm-identity, ls-identity, stat-identity, add-policy, rm-policy, assign-policy, ls-policy, stat-policy, show-policy. */
export const accessCommands: CliCommand[] = [
  {
    name: "add-identity",
    summary: "Add an identity to an enclave",
    help: `Usage: kms add-identity [options] IDENTITY\n\nAdds IDENTITY (h1:…, see 'kms identity') to the enclave.\n\n  --privilege P       SysAdmin, Admin or User (default User)\n  --policy NAME       Assign the policy NAME\n  --service-account   Make it a service account of the caller (deleted with it)\n  --tag KEY=VALUE     A tag (repeatable)\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, privilege: { type: "string" }, policy: { type: "string" }, "service-account": { type: "boolean" }, tag: { type: "string", multiple: true } },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const id = args.positionals[0];
      const privilege = enumFlag(args.values.privilege, "--privilege", PRIVILEGE_NAMES) ?? "";
      const client = connect(args);
      // Check the policy first, so a bad --policy leaves no identity behind.
      if (args.values.policy) await client.policyStatus(enclave, args.values.policy as string);
      await client.createIdentity(enclave, id, privilege, args.values["service-account"] === true, tags(args.values.tag));
      if (args.values.policy) await client.assignPolicy(enclave, args.values.policy as string, id);
      output(args, { identity: id, enclave }, () => `Added identity ${id} to enclave ${enclave}`);
    },
  },
  {
    name: "rm-identity",
    summary: "Remove an identity (and its service accounts)",
    help: `Usage: kms rm-identity [options] IDENTITY

Removes IDENTITY from the enclave, with the service accounts it created. Asks
for confirmation on a terminal; needs --force otherwise.

${FORCE_HELP}
${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...FORCE_OPTION },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const id = args.positionals[0];
      const client = connect(args);
      await confirm(args, `removes identity ${id} from enclave ${enclave}`, async () => {
        try {
          const i = await client.identityStatus(enclave, id) as Identity;
          return [
            `privilege ${PRIVILEGES[i.privilege] ?? i.privilege}, policy ${i.policy || "none"}`,
            `${i.service_accounts.length} service account(s) go with it${i.service_accounts.length ? `: ${i.service_accounts.join(", ")}` : ""}`,
          ];
        } catch {
          return [];
        }
      });
      await client.deleteIdentity(enclave, id);
      output(args, { identity: id, enclave }, () => `Removed identity ${id} from enclave ${enclave}`);
    },
  },
  {
    name: "stat-identity",
    summary: "Show an identity",
    help: `Usage: kms stat-identity [options] IDENTITY\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 1,
    async run(args) {
      const i = await connect(args).identityStatus(enclaveOf(args), args.positionals[0]) as Identity;
      output(args, i, () =>
        table([
          ["Identity", i.identity], ["Privilege", PRIVILEGES[i.privilege] ?? String(i.privilege)], ["Policy", i.policy || "-"],
          ["Service account", i.is_service_account ? "yes" : "no"], ["Service accounts", i.service_accounts.join(", ") || "-"],
          ["Tags", Object.entries(i.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "-"],
          ["Created", time(i.created_at)], ["Created by", i.created_by],
        ]));
    },
  },
  {
    name: "ls-identity",
    summary: "List identities",
    help: `Usage: kms ls-identity [options] [PREFIX]\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: [0, 1],
    async run(args) {
      const client = connect(args);
      const enclave = enclaveOf(args);
      const ids = await allPages<Identity>((at) => client.listIdentities(enclave, args.positionals[0] ?? "", at), "identities");
      output(args, ids, () =>
        columns(["IDENTITY", "PRIVILEGE", "POLICY", "CREATED"], ids.map((i) => [i.identity, PRIVILEGES[i.privilege] ?? "?", i.policy || "-", time(i.created_at)])));
    },
  },
  {
    name: "add-policy",
    summary: "Create or replace a policy from a JSON or YAML file",
    help: `Usage: kms add-policy [options] NAME FILE

FILE (JSON or YAML) maps command names to name patterns ('*' matches any run):
  allow:
    KEY:GENERATE: minio-*
    KEY:DECRYPT: [minio-*]
  deny:
    KEY:DELETE: "*"
A matching deny wins; without a matching allow, the request is denied.
Command names ('kms ls-commands' explains each):
  ${policyCommands().grantable.join(", ").replace(/(.{60,}?), /g, "$1,\n  ")}

${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 2,
    async run(args) {
      const enclave = enclaveOf(args);
      const [name, file] = args.positionals;
      const policy = readPolicyFile(file);
      await connect(args).createPolicy(enclave, name, policy.allow, policy.deny);
      output(args, { name, enclave }, () => `Created policy ${name} in enclave ${enclave}`);
    },
  },
  {
    name: "rm-policy",
    summary: "Delete a policy (identities holding it lose it)",
    help: `Usage: kms rm-policy [options] NAME

Deletes the policy NAME; identities holding it are left without a policy (and
so are denied everything). Asks for confirmation on a terminal; needs --force
otherwise.

${FORCE_HELP}
${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...FORCE_OPTION },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const name = args.positionals[0];
      const client = connect(args);
      await confirm(args, `deletes policy ${name} in enclave ${enclave}`, async () => {
        try {
          const ids = await allPages<Identity>((at) => client.listIdentities(enclave, "", at), "identities");
          const holders = ids.filter((i) => i.policy === name).map((i) => i.identity);
          return [`${holders.length} identity(ies) hold it and lose it${holders.length ? `: ${holders.join(", ")}` : ""}`];
        } catch {
          return [];
        }
      });
      await client.deletePolicy(enclave, name);
      output(args, { name, enclave }, () => `Deleted policy ${name} in enclave ${enclave}`);
    },
  },
  {
    name: "assign-policy",
    summary: "Assign a policy to an identity",
    help: `Usage: kms assign-policy [options] POLICY IDENTITY\n\nAn identity holds one policy; this replaces any earlier one.\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 2,
    async run(args) {
      const enclave = enclaveOf(args);
      const [policy, identity] = args.positionals;
      await connect(args).assignPolicy(enclave, policy, identity);
      output(args, { policy, identity, enclave }, () => `Assigned policy ${policy} to ${identity}`);
    },
  },
  {
    name: "stat-policy",
    summary: "Show a policy's metadata",
    help: `Usage: kms stat-policy [options] NAME\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 1,
    async run(args) {
      const p = await connect(args).policyStatus(enclaveOf(args), args.positionals[0]) as Policy;
      output(args, p, () => table([["Name", p.name], ["Created", time(p.created_at)], ["Created by", p.created_by]]));
    },
  },
  {
    name: "show-policy",
    summary: "Show a policy's rules",
    help: `Usage: kms show-policy [options] NAME\n\nPrints the policy's rules as YAML (JSON with --json).\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: 1,
    async run(args) {
      const p = await connect(args).getPolicy(enclaveOf(args), args.positionals[0]);
      const rules = { allow: rulesOf(p.allow as RuleSets), deny: rulesOf(p.deny as RuleSets) };
      output(args, { name: p.name, ...rules }, () => YAML.stringify(rules).trimEnd());
    },
  },
  {
    name: "ls-policy",
    summary: "List policies",
    help: `Usage: kms ls-policy [options] [PREFIX]\n\n${HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: [0, 1],
    async run(args) {
      const client = connect(args);
      const enclave = enclaveOf(args);
      const ps = await allPages<Policy>((at) => client.listPolicies(enclave, args.positionals[0] ?? "", at), "policies");
      output(args, ps, () => columns(["NAME", "CREATED", "CREATED BY"], ps.map((p) => [p.name, time(p.created_at), p.created_by])));
    },
  },
  {
    name: "ls-commands",
    summary: "List the command names policies use",
    help: `Usage: kms ls-commands [--json]

Lists the command names a policy's allow and deny rules take, with what each
one lets its holder do. Cluster and enclave commands are for SysAdmins only.`,
    options: {},
    positionals: 0,
    async run(args) {
      const { all, grantable } = policyCommands();
      const rows = all.map((name) => ({ name, grantable: grantable.includes(name), allows: COMMAND_HELP[name] ?? "" }));
      output(args, rows, () => columns(["COMMAND", "IN POLICIES", "ALLOWS"], rows.map((r) => [r.name, r.grantable ? "yes" : "SysAdmin only", r.allows || "-"])));
    },
  },
];
