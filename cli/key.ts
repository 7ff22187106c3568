import { readFileSync } from "node:fs";
import { KmsClient, KmsClientError } from "../lib/client/client.ts";
import { KEY_TYPES } from "../lib/state/types.ts";
import { type CliCommand, CliError, enumFlag } from "./command.ts";
import { confirm, FORCE_HELP, FORCE_OPTION } from "./confirm.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { columns, output, table, time } from "./output.ts";
import { allPages } from "./pages.ts";
import { decodeBase64 } from "../lib/encoding/base64.ts";

type KeyStatus = { name: string; version: number; type: string; created_at: unknown; created_by: string };

const ENCLAVE = { enclave: { type: "string", short: "e" } } as const;
const ENCLAVE_HELP = `  -e, --enclave NAME  The enclave to work in (default: $MINIO_KMS_ENCLAVE)`;

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
  return decodeBase64(text);
}

/** The latest version of a key: 0 when it does not exist, undefined when the caller may not see it. */
async function latestVersion(client: KmsClient, enclave: string, name: string): Promise<number | undefined> {
  try {
    return (await client.keyStatus(enclave, name)).version as number;
  } catch (err) {
    if (err instanceof KmsClientError && err.status === 404 && err.message === "key does not exist") return 0;
    return undefined;
  }
}

/** The versions a key still has (probing 1..latest), or undefined when they cannot be seen. */
async function existingVersions(client: KmsClient, enclave: string, name: string): Promise<number[] | undefined> {
  const latest = await latestVersion(client, enclave, name);
  if (!latest) return latest === 0 ? [] : undefined;
  const probe = Array.from({ length: Math.min(latest, 256) }, (_, i) => latest - i);
  const seen = await Promise.all(probe.map((v) => client.keyStatus(enclave, name, v).then(() => v, () => 0)));
  return seen.filter(Boolean).sort((a, b) => a - b);
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
      await client.createKey(enclave, name, enumFlag(args.values.type, "--type", KEY_TYPES) ?? "", args.values.version === true);
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
        await connect(args).importKey(enclave, name, key, enumFlag(args.values.type, "--type", KEY_TYPES) ?? "");
      } finally {
        key.fill(0);
      }
      output(args, { name, enclave }, () => `Imported key ${name} into enclave ${enclave}`);
    },
  },
  {
    name: "rm-key",
    summary: "Delete a key version, or the whole key",
    help: `Usage: kms rm-key [options] NAME

Deletes one version of the key NAME: the latest (default) or --version N; or
the whole key with --all. Ciphertexts made with a deleted version can no longer
be decrypted. Deleting the last remaining version deletes the key. Asks for
confirmation on a terminal; needs --force otherwise.

${ENCLAVE_HELP}
  --version N         Delete version N
  --all               Delete every version: the whole key
${FORCE_HELP}
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, ...ENCLAVE, ...FORCE_OPTION, version: { type: "string" }, all: { type: "boolean" } },
    positionals: 1,
    async run(args) {
      const enclave = enclaveOf(args);
      const name = args.positionals[0];
      const all = args.values.all === true;
      const version = intFlag(args.values.version, "--version");
      if (all && version) throw new CliError("--all and --version go separately: --all deletes every version", 2);
      const client = connect(args);
      // Which version "the latest" is, so the message can name it (unknown if the caller may not see it).
      const latest = all || version ? undefined : await latestVersion(client, enclave, name);
      const target = all ? `key ${name} in enclave ${enclave} with all its versions`
        : `version ${version || latest || "(the latest)"}${version ? "" : " (the latest)"} of key ${name} in enclave ${enclave}`;
      await confirm(args, `deletes ${target}`, async () => {
        const versions = await existingVersions(client, enclave, name);
        if (!versions) return [];
        const goes = all ? versions : versions.filter((v) => v === (version || latest));
        return [
          `${goes.length} version(s) go: ${goes.map((v) => `v${v}`).join(", ") || "none"}; ${versions.length - goes.length} remain`,
          "ciphertexts made with a deleted version can no longer be decrypted",
        ];
      });
      await client.deleteKey(enclave, name, version || latest || 0, all); // the version confirmed, even if a rotation came between
      const now = all ? undefined : await latestVersion(client, enclave, name);
      const deleted = all ? undefined : version || latest;
      const rest = all ? "" : now ? `; v${now} is the latest` : now === 0 ? "; it was the last version: the key is gone" : "";
      output(args, { name, enclave, ...(all ? { all_versions: true } : { version: deleted ?? null, latest: now ?? null }) }, () =>
        all ? `Deleted key ${name} in enclave ${enclave} (all versions)`
          : `Deleted ${name} ${deleted ? `v${deleted}` : "latest version"} in enclave ${enclave}${rest}`);
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
