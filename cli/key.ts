import { readFileSync } from "node:fs";
import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { columns, output, table, time } from "./output.ts";
import { allPages } from "./pages.ts";

type KeyStatus = { name: string; version: number; type: string; created_at: unknown; created_by: string };

const ENCLAVE = { enclave: { type: "string", short: "e" } } as const;
const ENCLAVE_HELP = `  -e, --enclave NAME  Enclave of the key (default: $MINIO_KMS_ENCLAVE)`;

/** Parses a non-negative integer flag. */
export function intFlag(value: unknown, flag: string, fallback = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CliError(`${flag} must be a non-negative integer`, 2);
  return n;
}

function statusTable(k: KeyStatus): string {
  return table([["Name", k.name], ["Version", String(k.version)], ["Type", k.type], ["Created", time(k.created_at)], ["Created by", k.created_by]]);
}

/** Reads a 32-byte key from FILE ("-" = stdin): raw bytes or base64 text. */
function readKeyFile(file: string): Uint8Array {
  const raw = new Uint8Array(readFileSync(file === "-" ? 0 : file));
  if (raw.length === 32) return raw;
  const text = new TextDecoder().decode(raw).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new CliError("the key file must hold 32 raw bytes or their base64");
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** add-key, import-key, rm-key, stat-key, ls-key. */
export const keyCommands: CliCommand[] = [
  {
    name: "add-key",
    summary: "Create a key, or add a version to one",
    help: `Usage: kms add-key [options] NAME\n\n${ENCLAVE_HELP}\n  --type TYPE         AES256 (default) or ChaCha20\n  --version           Add a new version to the existing key NAME (rotation)\n${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, type: { type: "string" }, version: { type: "boolean" } },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const name = args.positionals[0];
      const client = connect(args);
      await client.createKey(enclave, name, (args.values.type as string) ?? "", args.values.version === true);
      const k = await client.keyStatus(enclave, name) as KeyStatus;
      output(args, k, () => `${args.values.version ? "Added version" : "Created key"} ${name} v${k.version} in enclave ${enclave}`);
    },
  },
  {
    name: "import-key",
    summary: "Import a 32-byte key",
    help: `Usage: kms import-key [options] NAME FILE\n\nImports the key in FILE (32 raw bytes or their base64; - reads stdin) as NAME.\n\n${ENCLAVE_HELP}\n  --type TYPE         AES256 (default) or ChaCha20\n${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, type: { type: "string" } },
    positionals: 2,
    async run(args) {
      const enclave = enclaveOf(args);
      const [name, file] = args.positionals;
      const key = readKeyFile(file);
      try {
        await connect(args).importKey(enclave, name, key, (args.values.type as string) ?? "");
      } finally {
        key.fill(0);
      }
      output(args, { name, enclave }, () => `Imported key ${name} into enclave ${enclave}`);
    },
  },
  {
    name: "rm-key",
    summary: "Delete a key version, or the whole key",
    help: `Usage: kms rm-key [options] NAME\n\nDeletes the latest version of NAME (or --version N, or --all versions).\n\n${ENCLAVE_HELP}\n  --version N         Delete version N\n  --all               Delete every version\n${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, version: { type: "string" }, all: { type: "boolean" } },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const name = args.positionals[0];
      await connect(args).deleteKey(enclave, name, intFlag(args.values.version, "--version"), args.values.all === true);
      output(args, { name, enclave }, () => `Deleted key ${name}${args.values.all ? " (all versions)" : ""}`);
    },
  },
  {
    name: "stat-key",
    summary: "Show a key",
    help: `Usage: kms stat-key [options] NAME\n\n${ENCLAVE_HELP}\n  --version N         Show version N (default: latest)\n${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, version: { type: "string" } },
    positionals: 1,
    async run(args) {
      const k = await connect(args).keyStatus(enclaveOf(args), args.positionals[0], intFlag(args.values.version, "--version")) as KeyStatus;
      output(args, k, () => statusTable(k));
    },
  },
  {
    name: "ls-key",
    summary: "List keys",
    help: `Usage: kms ls-key [options] [PREFIX]\n\nLists the keys whose names start with PREFIX.\n\n${ENCLAVE_HELP}\n${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE },
    positionals: [0, 1],
    async run(args) {
      const client = connect(args);
      const enclave = enclaveOf(args);
      const keys = await allPages<KeyStatus>((at) => client.listKeys(enclave, args.positionals[0] ?? "", at), "keys");
      output(args, keys, () =>
        columns(["NAME", "VERSION", "TYPE", "CREATED"], keys.map((k) => [k.name, String(k.version), k.type, time(k.created_at)])));
    },
  },
];

export { ENCLAVE, ENCLAVE_HELP };
