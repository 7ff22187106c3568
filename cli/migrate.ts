import path from "node:path";
import { ConfigError, loadConfig } from "../lib/edge/config.ts";
import type { KeyStore, MasterKey } from "../lib/edge/keystore.ts";
import { describeStore, openKeyStore } from "../lib/edge/stores/open.ts";
import { type KmsClient, KmsClientError } from "../lib/client/client.ts";
import { equal as constantTimeEqual } from "../lib/crypto/constant-time.ts";
import { encryptKes } from "../lib/crypto/kes.ts";
import { randomBytes } from "../lib/crypto/random.ts";
import { nameProblem } from "../lib/state/names.ts";
import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { columns, output } from "./output.ts";

type Result = "imported" | "to import" | "exists" | "clash" | "failed";

interface Row {
  name: string;
  /** The name in the enclave (differs with --rename-prefix). */
  target: string;
  result: Result;
  detail: string;
}

/**
 * Whether the enclave's key `name` holds the same material (in any version)
 * as `key`: the cluster is asked to decrypt a KES-format ciphertext of random
 * bytes made here under `key`. Neither side's key is revealed.
 */
async function sameMaterial(client: KmsClient, enclave: string, name: string, key: MasterKey): Promise<boolean> {
  const probe = randomBytes(32);
  const context = randomBytes(16);
  try {
    const r = await client.decrypt(enclave, name, encryptKes(key.type, key.material, probe, context), context);
    return constantTimeEqual(r.plaintext as Uint8Array, probe);
  } catch (err) {
    if (err instanceof KmsClientError && err.status === 400) return false;
    throw err;
  }
}

/** What an existing key of the same name means: the same key (left alone) or a clash. */
async function compare(client: KmsClient, enclave: string, row: Pick<Row, "name" | "target">, key: MasterKey): Promise<Row> {
  try {
    if (await sameMaterial(client, enclave, row.target, key)) return { ...row, result: "exists", detail: "the same key is already in the enclave: left alone" };
    return { ...row, result: "clash", detail: "a DIFFERENT key of this name is in the enclave: not imported (see --rename-prefix)" };
  } catch (err) {
    if (err instanceof KmsClientError) return { ...row, result: "failed", detail: `exists, but cannot compare it: ${err.message} (HTTP ${err.status}; needs KEY:DECRYPT)` };
    throw err;
  }
}

/** Imports one key (or, in a dry run, checks what importing it would do) exactly as the real run decides. */
async function migrateKey(client: KmsClient, enclave: string, row: Pick<Row, "name" | "target">, key: MasterKey, dryRun: boolean): Promise<Row> {
  const failed = (err: KmsClientError): Row => ({ ...row, result: "failed", detail: `${err.message} (HTTP ${err.status})` });
  try {
    if (!dryRun) {
      await client.importKey(enclave, row.target, key.material, key.type);
      return { ...row, result: "imported", detail: key.type };
    }
    await client.keyStatus(enclave, row.target);
  } catch (err) {
    if (!(err instanceof KmsClientError)) throw err;
    if (dryRun && err.status === 404 && err.message === "key does not exist") return { ...row, result: "to import", detail: `${key.type} (dry run)` };
    if (dryRun || err.status !== 409) return failed(err);
  }
  // The name is taken (the import said 409, or the dry run found it).
  return compare(client, enclave, row, key);
}

/** migrate: copies a KES key store's keys into an enclave. */
export const migrateCommands: CliCommand[] = [
  {
    name: "migrate",
    summary: "Copy every key of a KES key store into an enclave",
    help: `Usage: kms migrate --from CONFIG.yml [options] [PREFIX]

Reads the key store of a KES (or kms edge) config file and imports each of its
keys (whose names start with PREFIX) into an enclave of the cluster named by
MINIO_KMS_SERVER, as KEY:IMPORT with the same name, type and key bytes.
Ciphertexts KES made keep decrypting through either API of the cluster.
A key whose name is already in the enclave is compared (without revealing
either key): the same key is left alone ("exists"); a different one is a
"clash", reported as an error. --dry-run checks the enclave the same way and
changes nothing. HMACs differ: KES keys carry a separate HMAC key, kms
derives its own. Needs KEY:IMPORT, KEY:STATUS and KEY:DECRYPT.

Options:
  --from FILE           KES config file whose 'keystore' to read (required)
  -e, --enclave NAME    Target enclave (default: $MINIO_KMS_ENCLAVE)
  --dry-run             Report what would happen, import nothing
  --rename-prefix P     Import every key as P + its name (a way around clashes;
                        clients must then ask for the new names)
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, from: { type: "string" }, enclave: { type: "string", short: "e" }, "dry-run": { type: "boolean" }, "rename-prefix": { type: "string" } },
    positionals: [0, 1],
    async run(args) {
      const file = args.values.from as string | undefined;
      if (!file) throw new CliError("migrate: --from CONFIG.yml is required", 2);
      const enclave = enclaveOf(args);
      const prefix = args.positionals[0] ?? "";
      const rename = (args.values["rename-prefix"] as string | undefined) ?? "";
      if (rename && nameProblem(`${rename}x`)) throw new CliError(`--rename-prefix: ${nameProblem(`${rename}x`)}`, 2);
      const dryRun = args.values["dry-run"] === true;
      const client = connect(args);
      let store: KeyStore;
      let source: string;
      try {
        const cfg = loadConfig(path.resolve(file));
        source = describeStore(cfg.keystore);
        store = await openKeyStore(cfg.keystore);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw new CliError(`cannot open the key store: ${(err as Error).message}`);
      }
      const rows: Row[] = [];
      try {
        let names: string[];
        try {
          names = (await store.list(prefix)).sort();
        } catch (err) {
          throw new CliError(`cannot list ${source}: ${(err as Error).message}`);
        }
        for (const name of names) {
          const row = { name, target: rename + name };
          let key: MasterKey;
          try {
            key = await store.get(name);
          } catch (err) {
            rows.push({ ...row, result: "failed", detail: (err as Error).message });
            continue;
          }
          try {
            rows.push(await migrateKey(client, enclave, row, key, dryRun));
          } finally {
            key.material.fill(0);
          }
        }
        client.close();
      } finally {
        await store.close();
      }
      const counts = (r: Result) => rows.filter((x) => x.result === r).length;
      const summary = `${counts(dryRun ? "to import" : "imported")} ${dryRun ? "to import" : "imported"}, ${counts("exists")} already present, ` +
        `${counts("clash")} clashing, ${counts("failed")} failed (from ${source} into enclave ${enclave}${dryRun ? "; dry run: nothing imported" : ""})`;
      output(args, { source, enclave, dry_run: dryRun, keys: rows }, () =>
        [
          rows.length
            ? columns(["KEY", ...(rename ? ["AS"] : []), "RESULT", "DETAIL"], rows.map((r) => [r.name, ...(rename ? [r.target] : []), r.result, r.detail]))
            : `No keys in ${source}${prefix ? ` starting with ${prefix}` : ""}`,
          summary,
        ].join("\n"));
      if (counts("clash") > 0) {
        throw new CliError(`${counts("clash")} key(s) clash with different keys of the same name in enclave ${enclave}: ` +
          "ciphertexts KES made under them would not decrypt here. Rename or remove the enclave's keys, or import under new names with --rename-prefix", 1);
      }
      return counts("failed") > 0 ? 1 : 0;
    },
  },
];
