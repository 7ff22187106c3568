/** Opens the key store a config names. */
import type { KeyStoreConfig } from "../config.ts";
import type { KeyStore } from "../keystore.ts";
import { FsKeyStore } from "./fs.ts";
import { KmsKeyStore } from "./kms.ts";
import { VaultStore } from "./vault.ts";

export async function openKeyStore(cfg: KeyStoreConfig): Promise<KeyStore> {
  switch (cfg.kind) {
    case "fs":
      return FsKeyStore.open(cfg.path);
    case "vault":
      return new VaultStore(cfg);
    case "aws.secretsmanager": {
      // The AWS SDK is large: load it only for the store that needs it.
      const { AwsSecretsManagerStore } = await import("./aws.ts");
      return new AwsSecretsManagerStore(cfg);
    }
    case "kms":
      return new KmsKeyStore(cfg);
  }
}

/** A one-line description of a store for start-up output (no secrets). */
export function describeStore(cfg: KeyStoreConfig): string {
  switch (cfg.kind) {
    case "fs":
      return `fs ${cfg.path}`;
    case "vault":
      return `vault ${cfg.endpoint} (${cfg.engine}, KV ${cfg.version}${cfg.prefix ? `, prefix ${cfg.prefix}` : ""}${cfg.transit ? ", transit" : ""})`;
    case "aws.secretsmanager":
      return `aws.secretsmanager ${cfg.endpoint ?? cfg.region}`;
    case "kms":
      return `kms ${cfg.endpoints.join(",")} (enclave ${cfg.enclave})`;
  }
}
