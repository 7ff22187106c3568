import path from "node:path";
import { ConfigError, loadConfig } from "../lib/edge/config.ts";
import type { KeyStore } from "../lib/edge/keystore.ts";
import { describeStore, openKeyStore } from "../lib/edge/stores/open.ts";
import { KmsClientError } from "../lib/client/client.ts";
import { type CliCommand, CliError } from "./command.ts";
import { connect, CONNECT_HELP, CONNECT_OPTIONS, enclaveOf } from "./connect.ts";
import { columns, output } from "./output.ts";

interface Row {
  name: string;
  result: "imported" | "exists" | "failed";
  detail: string;
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
Keys that already exist in the enclave are left alone and reported.
HMACs differ: KES keys carry a separate HMAC key, kms derives its own.

Options:
  --from FILE         KES config file whose 'keystore' to read (required)
  -e, --enclave NAME  Target enclave (default: $MINIO_KMS_ENCLAVE)
  --dry-run           List what would be imported, import nothing
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, from: { type: "string" }, enclave: { type: "string", short: "e" }, "dry-run": { type: "boolean" } },
    positionals: [0, 1],
    async run(args) {
      const file = args.values.from as string | undefined;
      if (!file) throw new CliError("migrate: --from CONFIG.yml is required", 2);
      const enclave = enclaveOf(args);
      const prefix = args.positionals[0] ?? "";
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
        const client = args.values["dry-run"] ? undefined : connect(args);
        for (const name of names) {
          let key;
          try {
            key = await store.get(name);
          } catch (err) {
            rows.push({ name, result: "failed", detail: (err as Error).message });
            continue;
          }
          if (!client) {
            rows.push({ name, result: "imported", detail: `${key.type} (dry run)` });
            continue;
          }
          try {
            await client.importKey(enclave, name, key.material, key.type);
            rows.push({ name, result: "imported", detail: key.type });
          } catch (err) {
            if (err instanceof KmsClientError && err.status === 409) rows.push({ name, result: "exists", detail: "already in the enclave: left alone" });
            else if (err instanceof KmsClientError) rows.push({ name, result: "failed", detail: `${err.message} (HTTP ${err.status})` });
            else throw err;
          } finally {
            key.material.fill(0);
          }
        }
        client?.close();
      } finally {
        await store.close();
      }
      const counts = (r: Row["result"]) => rows.filter((x) => x.result === r).length;
      output(args, { source, enclave, keys: rows }, () =>
        [
          rows.length ? columns(["KEY", "RESULT", "DETAIL"], rows.map((r) => [r.name, r.result, r.detail])) : `No keys in ${source}${prefix ? ` starting with ${prefix}` : ""}`,
          `${counts("imported")} imported, ${counts("exists")} already present, ${counts("failed")} failed (from ${source} into enclave ${enclave})`,
        ].join("\n"));
      return counts("failed") > 0 ? 1 : 0;
    },
  },
];
