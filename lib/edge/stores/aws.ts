/**
 * The aws.secretsmanager key store: one secret per key, named by the key,
 * whose SecretString is KES's text form (optionally encrypted under a KMS key
 * of the account). Uses the AWS SDK for JavaScript v3.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { KeyStoreConfig } from "../config.ts";
import { decodeKey, encodeKey } from "../keyformat.ts";
import { isKeyName, KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey, reason } from "../keystore.ts";

type AwsConfig = Extract<KeyStoreConfig, { kind: "aws.secretsmanager" }>;

/** Whether an SDK error means no answer came (network) rather than an AWS error reply. */
function isNetworkError(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; name?: string };
  return e?.$metadata?.httpStatusCode === undefined || e.name === "TimeoutError";
}

export class AwsSecretsManagerStore implements KeyStore {
  readonly kind = "aws.secretsmanager";
  readonly #client: SecretsManagerClient;
  readonly #kmsKey?: string;

  constructor(cfg: AwsConfig) {
    this.#client = new SecretsManagerClient({
      region: cfg.region,
      endpoint: cfg.endpoint,
      credentials: cfg.credentials
        ? { accessKeyId: cfg.credentials.accessKey, secretAccessKey: cfg.credentials.secretKey, sessionToken: cfg.credentials.token }
        : undefined,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    });
    this.#kmsKey = cfg.kmsKey;
  }

  #fail(op: string, err: unknown): never {
    throw new KeyStoreError(`aws.secretsmanager: ${op}: ${reason(err)}`, isNetworkError(err));
  }

  async status() {
    const started = performance.now();
    try {
      await this.#client.send(new ListSecretsCommand({ MaxResults: 1 }));
    } catch (err) {
      this.#fail("status", err);
    }
    return { latencyMs: Math.round(performance.now() - started) };
  }

  async create(name: string, key: MasterKey): Promise<MasterKey> {
    try {
      await this.#client.send(new CreateSecretCommand({ Name: name, SecretString: encodeKey(key), KmsKeyId: this.#kmsKey }));
    } catch (err) {
      if (err instanceof ResourceExistsException) throw new KeyExistsError();
      this.#fail(`create ${name}`, err);
    }
    return key;
  }

  async get(name: string): Promise<MasterKey> {
    if (!isKeyName(name)) throw new KeyNotFoundError();
    let text: string | undefined;
    try {
      text = (await this.#client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) throw new KeyNotFoundError();
      this.#fail(`get ${name}`, err);
    }
    if (text === undefined) throw new KeyStoreError(`aws.secretsmanager: secret ${name} has no SecretString`, false);
    return decodeKey(text);
  }

  async delete(name: string): Promise<void> {
    if (!isKeyName(name)) throw new KeyNotFoundError();
    try {
      await this.#client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException) throw new KeyNotFoundError();
      this.#fail(`delete ${name}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#client.send(new ListSecretsCommand({ NextToken: token, MaxResults: 100 }));
        for (const s of page.SecretList ?? []) if (s.Name && s.Name.startsWith(prefix) && isKeyName(s.Name)) names.push(s.Name);
        token = page.NextToken;
      } while (token);
    } catch (err) {
      this.#fail("list", err);
    }
    return names;
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
