/**
 * The vault key store: Hashicorp Vault's (or OpenBao's) KV engine, v1 or v2,
 * at `<engine>/[data/]<prefix>/<name>` with the value `{<name>: <KES text>}`.
 * KV v2 creates are check-and-set (cas: 0), so two edge servers cannot both
 * create a key; KV v1 has no such primitive, so there a create reads first.
 * Authentication: AppRole login, the token renewed at half its lease and a
 * fresh login when renewal fails. Optionally the value is wrapped with the
 * transit engine, so the KV engine never holds a key in the clear.
 */
import { readFileSync } from "node:fs";
import type { KeyStoreConfig } from "../config.ts";
import { JsonClient, type JsonReply } from "../../net/json-client.ts";
import { TransportError } from "../../net/transport.ts";
import { decodeKey, encodeKey } from "../keyformat.ts";
import { isKeyName, KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey, reason } from "../keystore.ts";
import { decodeBase64, encodeBase64 } from "../../encoding/base64.ts";

type VaultConfig = Extract<KeyStoreConfig, { kind: "vault" }>;

interface Token {
  readonly value: string;
  readonly renewable: boolean;
  /** ms since the epoch; Infinity for tokens without a lease. */
  readonly expiresAt: number;
}

const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((x, k) => (x && typeof x === "object" ? (x as Record<string, unknown>)[k] : undefined), o);

export class VaultStore implements KeyStore {
  readonly kind = "vault";
  readonly #cfg: VaultConfig;
  readonly #http: JsonClient;
  #token?: Token;
  #login?: Promise<Token>;
  #renewTimer?: ReturnType<typeof setTimeout>;
  #closed = false;
  /** Logins and renewals so far, for status and tests. */
  readonly stats = { logins: 0, renewals: 0 };

  constructor(cfg: VaultConfig) {
    this.#cfg = cfg;
    const read = (f?: string) => (f ? readFileSync(f, "utf8") : undefined);
    this.#http = new JsonClient(cfg.endpoint, { ca: read(cfg.tls.ca), cert: read(cfg.tls.cert), key: read(cfg.tls.key) });
    if (cfg.token) this.#token = { value: cfg.token, renewable: false, expiresAt: Infinity };
  }

  #headers(token?: string): Record<string, string> {
    const h: Record<string, string> = {};
    if (token) h["x-vault-token"] = token;
    if (this.#cfg.namespace) h["x-vault-namespace"] = this.#cfg.namespace;
    return h;
  }

  async #call(method: string, path: string, body?: unknown, token?: string): Promise<JsonReply> {
    try {
      return await this.#http.request(method, path, body, this.#headers(token));
    } catch (err) {
      if (err instanceof TransportError) throw new KeyStoreError(`vault: ${this.#cfg.endpoint} is not reachable: ${err.code ?? err.message}`);
      throw new KeyStoreError(`vault: ${reason(err)}`);
    }
  }

  // ------------------------------------------------------------------ authentication

  /** A valid token, logging in when there is none or it expired. */
  async #validToken(): Promise<string> {
    if (this.#token && this.#token.expiresAt - Date.now() > 1_000) return this.#token.value;
    return (await this.#relogin()).value;
  }

  /** One AppRole login at a time; concurrent callers share it. */
  #relogin(): Promise<Token> {
    this.#login ??= this.#appRoleLogin().finally(() => (this.#login = undefined));
    return this.#login;
  }

  async #appRoleLogin(): Promise<Token> {
    const a = this.#cfg.approle;
    if (!a) throw new KeyStoreError("vault: the token was rejected and no approle is configured", false);
    const r = await this.#call("POST", `/v1/auth/${a.engine}/login`, { role_id: a.id, secret_id: a.secret });
    const value = get(r.json, "auth", "client_token");
    if (r.status !== 200 || typeof value !== "string") {
      throw new KeyStoreError(`vault: AppRole login failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    }
    this.stats.logins++;
    const token = this.#tokenOf(r, value);
    this.#token = token;
    this.#scheduleRenewal(token);
    return token;
  }

  #tokenOf(r: JsonReply, value: string): Token {
    const lease = Number(get(r.json, "auth", "lease_duration") ?? 0);
    return { value, renewable: get(r.json, "auth", "renewable") === true, expiresAt: lease > 0 ? Date.now() + lease * 1000 : Infinity };
  }

  /** Renews at half the lease; when renewal fails, logs in again (retrying every approle.retry). */
  #scheduleRenewal(token: Token): void {
    clearTimeout(this.#renewTimer);
    if (this.#closed || !Number.isFinite(token.expiresAt)) return;
    const wait = Math.max(100, (token.expiresAt - Date.now()) / 2);
    this.#renewTimer = setTimeout(() => void this.#renew(token), wait);
    (this.#renewTimer as { unref?: () => void }).unref?.();
  }

  async #renew(token: Token): Promise<void> {
    if (this.#closed || this.#token !== token) return;
    try {
      if (token.renewable) {
        const r = await this.#call("POST", "/v1/auth/token/renew-self", {}, token.value);
        const value = get(r.json, "auth", "client_token");
        if (r.status === 200 && typeof value === "string") {
          this.stats.renewals++;
          const renewed = this.#tokenOf(r, value);
          this.#token = renewed;
          this.#scheduleRenewal(renewed);
          return;
        }
      }
      await this.#relogin();
    } catch {
      if (this.#closed) return;
      this.#renewTimer = setTimeout(() => void this.#relogin().catch(() => this.#scheduleRetry()), this.#cfg.approle?.retryMs ?? 15_000);
      (this.#renewTimer as { unref?: () => void }).unref?.();
    }
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    this.#renewTimer = setTimeout(() => void this.#relogin().catch(() => this.#scheduleRetry()), this.#cfg.approle?.retryMs ?? 15_000);
    (this.#renewTimer as { unref?: () => void }).unref?.();
  }

  /** An authenticated call; a 403 (token revoked or expired early) triggers one fresh login and a retry. */
  async #authed(method: string, path: string, body?: unknown): Promise<JsonReply> {
    let r = await this.#call(method, path, body, await this.#validToken());
    if (r.status === 403 && this.#cfg.approle) {
      r = await this.#call(method, path, body, (await this.#relogin()).value);
    }
    return r;
  }

  // ------------------------------------------------------------------ paths and values

  #path(kind: "data" | "metadata", name: string): string {
    const parts = [this.#cfg.engine, ...(this.#cfg.version === "v2" ? [kind] : []), ...(this.#cfg.prefix ? [this.#cfg.prefix] : []), name];
    return "/v1/" + parts.map((p) => p.split("/").map(encodeURIComponent).join("/")).join("/");
  }

  async #wrap(text: string): Promise<string> {
    const t = this.#cfg.transit;
    if (!t) return text;
    const r = await this.#authed("POST", `/v1/${t.engine}/encrypt/${encodeURIComponent(t.key)}`, { plaintext: encodeBase64(new TextEncoder().encode(text)) });
    const ct = get(r.json, "data", "ciphertext");
    if (r.status !== 200 || typeof ct !== "string") throw new KeyStoreError(`vault: transit encrypt failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    return ct;
  }

  async #unwrap(value: string): Promise<string> {
    const t = this.#cfg.transit;
    if (!t || !value.startsWith("vault:")) return value;
    const r = await this.#authed("POST", `/v1/${t.engine}/decrypt/${encodeURIComponent(t.key)}`, { ciphertext: value });
    const pt = get(r.json, "data", "plaintext");
    if (r.status !== 200 || typeof pt !== "string") throw new KeyStoreError(`vault: transit decrypt failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    return new TextDecoder().decode(decodeBase64(pt));
  }

  /** The raw value of `name`, or undefined when absent. */
  async #read(name: string): Promise<string | undefined> {
    const r = await this.#authed("GET", this.#path("data", name));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new KeyStoreError(`vault: reading ${name} failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    const data = this.#cfg.version === "v2" ? get(r.json, "data", "data") : get(r.json, "data");
    const value = get(data, name);
    if (this.#cfg.version === "v2" && (data === null || get(r.json, "data", "metadata", "deletion_time"))) {
      if (value === undefined) return undefined; // a soft-deleted version
    }
    if (typeof value !== "string") throw new KeyStoreError(`vault: ${name} holds no value under its own name`, false);
    return value;
  }

  // ------------------------------------------------------------------ KeyStore

  async status() {
    const started = performance.now();
    const r = await this.#call("GET", "/v1/sys/health?standbyok=true&perfstandbyok=true");
    // 200 active, 429 standby, 472/473 DR/performance standby: all serve reads.
    if (![200, 429, 472, 473].includes(r.status)) {
      const sealed = get(r.json, "sealed") === true;
      throw new KeyStoreError(`vault: ${sealed ? "sealed" : `unhealthy (HTTP ${r.status})`}`);
    }
    return { latencyMs: Math.round(performance.now() - started) };
  }

  async create(name: string, key: MasterKey): Promise<MasterKey> {
    if (!isKeyName(name)) throw new KeyStoreError("vault: invalid key name", false);
    const value = await this.#wrap(encodeKey(key));
    if (this.#cfg.version === "v2") {
      const r = await this.#authed("POST", this.#path("data", name), { data: { [name]: value }, options: { cas: 0 } });
      if (r.status === 200 || r.status === 204) return key;
      if (r.status === 400 && /check-and-set/.test(vaultErrors(r))) throw new KeyExistsError();
      throw new KeyStoreError(`vault: creating ${name} failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    }
    if ((await this.#read(name)) !== undefined) throw new KeyExistsError();
    const r = await this.#authed("PUT", this.#path("data", name), { [name]: value });
    if (r.status !== 200 && r.status !== 204) throw new KeyStoreError(`vault: creating ${name} failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    return key;
  }

  async get(name: string): Promise<MasterKey> {
    if (!isKeyName(name)) throw new KeyNotFoundError();
    const value = await this.#read(name);
    if (value === undefined) throw new KeyNotFoundError();
    return decodeKey(await this.#unwrap(value));
  }

  async delete(name: string): Promise<void> {
    if (!isKeyName(name)) throw new KeyNotFoundError();
    // Vault answers 204 whether or not the entry exists: look first, so a missing key is a 404 as with KES.
    if ((await this.#read(name)) === undefined) throw new KeyNotFoundError();
    const r = await this.#authed("DELETE", this.#path("metadata", name));
    if (r.status !== 200 && r.status !== 204) throw new KeyStoreError(`vault: deleting ${name} failed (HTTP ${r.status}${vaultErrors(r)})`, false);
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.#path("metadata", "").replace(/\/$/, "");
    const r = await this.#authed("GET", `${base}/?list=true`);
    if (r.status === 404) return [];
    if (r.status !== 200) throw new KeyStoreError(`vault: listing failed (HTTP ${r.status}${vaultErrors(r)})`, false);
    const keys = get(r.json, "data", "keys");
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === "string" && k.startsWith(prefix) && isKeyName(k)) : [];
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#renewTimer);
    this.#http.close();
  }
}

/** Vault's error list, shortened, for messages (never values). */
function vaultErrors(r: JsonReply): string {
  const errors = get(r.json, "errors");
  return Array.isArray(errors) && errors.length ? `: ${errors.map(String).join("; ").slice(0, 200)}` : "";
}
