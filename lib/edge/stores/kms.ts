/**
 * The kms key store: another kms cluster, over the native protocol. Master
 * keys never leave the cluster; the edge server works with keys the cluster
 * derives for it (KEY:DERIVE, a permission of its own: an identity allowed
 * only KEY:MAC learns nothing of them). Edge keys are pinned to version 1 of
 * the upstream key: KES ciphertexts name no version, so rotating the upstream
 * key (add-key --version) must not change the key they open under.
 * create → KEY:IMPORT, get → KEY:STATUS + KEY:DERIVE of version 1 in one
 * pipelined request, delete → KEY:DELETE, list → KEY:LIST.
 */
import { readFileSync } from "node:fs";
import { KmsClient, KmsClientError } from "../../client/client.ts";
import { TransportError } from "../../net/transport.ts";
import type { KeyType } from "../../crypto/message-key.ts";
import type { KeyStoreConfig } from "../config.ts";
import { kesHexOf } from "../../identity/kes.ts";
import { isKeyName, KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey, reason } from "../keystore.ts";

type KmsConfig = Extract<KeyStoreConfig, { kind: "kms" }>;

/** The KEY:DERIVE context of edge keys; changing it changes every edge key. */
export const EDGE_CONTEXT = new TextEncoder().encode("kms/edge/v2/master-and-hmac-key");
/** The upstream version edge keys derive from. */
export const EDGE_VERSION = 1;

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
        { id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name, version: EDGE_VERSION } },
        { id: 1201, request: "DeriveKeyRequest", response: "DeriveKeyResponse", message: { name, version: EDGE_VERSION, context: EDGE_CONTEXT, length: 64 } },
      ]);
    } catch (err) {
      this.#fail(`get ${name}`, err);
    }
    const [status, derived] = replies;
    const keys = derived.key as Uint8Array;
    const at = status.created_at as { seconds?: number | { toNumber(): number }; nanos?: number } | undefined;
    const seconds = typeof at?.seconds === "object" ? at.seconds.toNumber() : Number(at?.seconds ?? 0);
    return {
      type: (status.type as KeyType) || "AES256",
      material: keys.slice(0, 32),
      hmacKey: keys.slice(32, 64),
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
