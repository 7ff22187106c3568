/**
 * The kms key store: another kms cluster, over the native protocol. Master
 * keys never leave the cluster; the edge server works with keys derived from
 * them by the cluster's MAC (KEY:MAC over a fixed label), which only an
 * identity allowed KEY:MAC on the key can obtain. create → KEY:CREATE (or
 * KEY:IMPORT), get → KEY:STATUS + two KEY:MACs in one pipelined request,
 * delete → KEY:DELETE, list → KEY:LIST.
 */
import { readFileSync } from "node:fs";
import { KmsClient, KmsClientError } from "../../client/client.ts";
import { TransportError } from "../../client/transport.ts";
import type { KeyType } from "../../crypto/message-key.ts";
import type { KeyStoreConfig } from "../config.ts";
import { kesHexOf } from "../../api/kes/identity.ts";
import { isKeyName, KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey, reason } from "../keystore.ts";

type KmsConfig = Extract<KeyStoreConfig, { kind: "kms" }>;

/** Labels of the two derived keys; changing them changes every edge key. */
export const EDGE_KEY_LABEL = new TextEncoder().encode("kms/edge/v1/master-key");
export const EDGE_HMAC_LABEL = new TextEncoder().encode("kms/edge/v1/hmac-key");

export class KmsKeyStore implements KeyStore {
  readonly kind = "kms";
  readonly #client: KmsClient;
  readonly #enclave: string;

  constructor(cfg: KmsConfig) {
    this.#client = new KmsClient({
      servers: cfg.endpoints,
      apiKey: cfg.apiKey,
      ca: cfg.ca ? readFileSync(cfg.ca, "utf8") : undefined,
      insecure: cfg.insecure,
      timeoutMs: 10_000,
    });
    this.#enclave = cfg.enclave;
  }

  #fail(op: string, err: unknown): never {
    if (err instanceof KmsClientError) {
      if (err.status === 404 && err.message === "key does not exist") throw new KeyNotFoundError();
      if (err.status === 409 && err.message === "key already exists") throw new KeyExistsError();
      throw new KeyStoreError(`kms: ${op}: ${err.message} (HTTP ${err.status})`, false);
    }
    throw new KeyStoreError(`kms: ${op}: ${err instanceof TransportError ? "not reachable: " : ""}${reason(err)}`, err instanceof TransportError);
  }

  async status() {
    const started = performance.now();
    try {
      await this.#client.version();
    } catch (err) {
      this.#fail("status", err);
    }
    return { latencyMs: Math.round(performance.now() - started) };
  }

  async create(name: string, key: MasterKey): Promise<MasterKey> {
    try {
      await this.#client.importKey(this.#enclave, name, key.material, key.type);
    } catch (err) {
      this.#fail(`create ${name}`, err);
    }
    return this.get(name);
  }

  async get(name: string): Promise<MasterKey> {
    if (!isKeyName(name)) throw new KeyNotFoundError();
    let replies: Record<string, unknown>[];
    try {
      replies = await this.#client.batch(this.#enclave, [
        { id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name, version: 0 } },
        { id: 210, request: "MACRequest", response: "MACResponse", message: { name, version: 0, message: EDGE_KEY_LABEL } },
        { id: 210, request: "MACRequest", response: "MACResponse", message: { name, version: 0, message: EDGE_HMAC_LABEL } },
      ]);
    } catch (err) {
      this.#fail(`get ${name}`, err);
    }
    const [status, key, hmac] = replies;
    const at = status.created_at as { seconds?: number | { toNumber(): number }; nanos?: number } | undefined;
    const seconds = typeof at?.seconds === "object" ? at.seconds.toNumber() : Number(at?.seconds ?? 0);
    return {
      type: (status.type as KeyType) || "AES256",
      material: key.mac as Uint8Array,
      hmacKey: hmac.mac as Uint8Array,
      createdAt: seconds * 1000 + Math.floor((at?.nanos ?? 0) / 1e6),
      createdBy: kesHexOf(String(status.created_by ?? "")),
    };
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#client.deleteKey(this.#enclave, name, 0, true);
    } catch (err) {
      this.#fail(`delete ${name}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let at = "";
    try {
      do {
        const page = await this.#client.listKeys(this.#enclave, prefix, at);
        for (const k of page.keys as { name: string }[]) names.push(k.name);
        at = page.continue_at as string;
      } while (at);
    } catch (err) {
      this.#fail("list", err);
    }
    return names.filter(isKeyName);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
