/**
 * The edge server's config: KES's YAML config file, unchanged. `${VAR}` in
 * any string is replaced by the environment variable's value. Relative file
 * paths are relative to the working directory, as with KES.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import YAML from "yaml";
import { h1OfKesHex } from "../api/kes/identity.ts";
import { parseDuration } from "./duration.ts";
import { isKeyName } from "./keystore.ts";

/** A policy of the config: path patterns and the identities (h1:) it applies to. */
export interface EdgePolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** KES hex identities as written in the config. */
  readonly identities: readonly string[];
}

export type KeyStoreConfig =
  | { readonly kind: "fs"; readonly path: string }
  | {
    readonly kind: "vault";
    readonly endpoint: string;
    readonly engine: string;
    readonly version: "v1" | "v2";
    readonly namespace: string;
    readonly prefix: string;
    readonly approle?: { readonly engine: string; readonly id: string; readonly secret: string; readonly retryMs: number };
    readonly token?: string;
    readonly transit?: { readonly engine: string; readonly key: string };
    readonly tls: { readonly key?: string; readonly cert?: string; readonly ca?: string };
    readonly pingMs?: number;
  }
  | {
    readonly kind: "aws.secretsmanager";
    readonly endpoint?: string;
    readonly region: string;
    readonly kmsKey?: string;
    readonly credentials?: { readonly accessKey: string; readonly secretKey: string; readonly token?: string };
  }
  | {
    readonly kind: "kms";
    readonly endpoints: readonly string[];
    readonly enclave: string;
    readonly apiKey: string;
    readonly ca?: string;
    readonly insecure: boolean;
  };

/** A parsed, validated config. */
export interface EdgeConfig {
  readonly address: string;
  /** The admin's h1: identity; undefined when disabled. */
  readonly admin?: string;
  readonly tls: { readonly key: string; readonly cert: string; readonly password?: string; readonly ca?: string; readonly verifyClients: boolean };
  readonly policies: ReadonlyMap<string, EdgePolicy>;
  readonly cache: { readonly anyMs: number; readonly unusedMs: number; readonly offlineMs: number; readonly probeMs: number };
  readonly log: { readonly error: boolean; readonly audit: boolean };
  readonly keys: readonly string[];
  readonly keystore: KeyStoreConfig;
}

/** A config problem: names the file and the setting, never a secret's value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Replaces `${VAR}` in every string of a parsed YAML document. */
export function substituteEnv(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === "string") return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name) => env[name] ?? "");
  if (Array.isArray(value)) return value.map((x) => substituteEnv(x, env));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, substituteEnv(x, env)]));
  }
  return value;
}

const Str = v.string();
const OptStr = v.optional(v.nullable(v.union([v.string(), v.number()])));
const Duration = v.optional(v.nullable(v.union([v.string(), v.number()])));
const OnOff = v.optional(v.nullable(v.union([v.string(), v.boolean()])));
const Patterns = v.optional(v.nullable(v.array(v.string())), []);

// Loose objects: settings this server does not use (api, kubernetes auth, …) are accepted and ignored.
const RawConfig = v.looseObject({
  version: OptStr,
  address: OptStr,
  admin: v.optional(v.nullable(v.looseObject({ identity: OptStr }))),
  tls: v.looseObject({
    key: Str,
    cert: Str,
    password: OptStr,
    auth: OnOff,
    ca: OptStr,
  }),
  policy: v.optional(v.nullable(v.record(v.string(), v.looseObject({
    allow: Patterns,
    deny: Patterns,
    paths: Patterns, // KES before 0.14
    identities: Patterns,
  })))),
  cache: v.optional(v.nullable(v.looseObject({
    expiry: v.optional(v.nullable(v.looseObject({ any: Duration, unused: Duration, offline: Duration }))),
    probe: Duration,
  }))),
  log: v.optional(v.nullable(v.looseObject({ error: OnOff, audit: OnOff }))),
  // A list of keys to create; KES before 0.14 used a mapping here for the key store.
  keys: v.optional(v.nullable(v.union([v.array(v.looseObject({ name: Str })), v.record(v.string(), v.unknown())]))),
  keystore: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
});

const VaultRaw = v.looseObject({
  endpoint: Str,
  engine: OptStr,
  version: OptStr,
  namespace: OptStr,
  prefix: OptStr,
  token: OptStr,
  approle: v.optional(v.nullable(v.looseObject({ engine: OptStr, id: OptStr, secret: OptStr, retry: Duration }))),
  kubernetes: v.optional(v.unknown()),
  transit: v.optional(v.nullable(v.looseObject({ engine: OptStr, key: OptStr }))),
  tls: v.optional(v.nullable(v.looseObject({ key: OptStr, cert: OptStr, ca: OptStr }))),
  status: v.optional(v.nullable(v.looseObject({ ping: Duration }))),
});

const AwsRaw = v.looseObject({
  endpoint: OptStr,
  region: Str,
  kmskey: OptStr,
  credentials: v.optional(v.nullable(v.looseObject({ accesskey: OptStr, secretkey: OptStr, token: OptStr }))),
});

const KmsRaw = v.looseObject({
  endpoint: v.optional(v.nullable(v.union([v.string(), v.array(v.string())]))),
  endpoints: v.optional(v.nullable(v.array(v.string()))),
  enclave: Str,
  api_key: OptStr,
  apikey: OptStr,
  insecure: v.optional(v.nullable(v.boolean())),
  tls: v.optional(v.nullable(v.looseObject({ ca: OptStr }))),
});

const str = (x: unknown): string => (x === undefined || x === null ? "" : String(x)).trim();
const onOff = (x: unknown, fallback: boolean): boolean => {
  if (x === undefined || x === null || x === "") return fallback;
  if (typeof x === "boolean") return x;
  return /^(on|true|yes|1|verify)$/i.test(String(x).trim());
};

/** Parses and validates config text; `file` only names it in errors. */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): EdgeConfig {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const raw = v.safeParse(RawConfig, substituteEnv(doc ?? {}, env));
  if (!raw.success) {
    const issue = raw.issues[0];
    const where = v.getDotPath(issue) ?? "";
    throw new ConfigError(`${file}: ${where ? where + ": " : ""}${issue.message}`);
  }
  const c = raw.output;
  const fail = (msg: string): never => {
    throw new ConfigError(`${file}: ${msg}`);
  };
  const duration = (x: unknown, name: string, fallback: number): number => {
    if (x === undefined || x === null || x === "") return fallback;
    try {
      return parseDuration(x as string | number);
    } catch (err) {
      return fail(`${name}: ${(err as Error).message}`);
    }
  };

  // admin.identity: hex (or h1:); "disabled", "" or absent switch the admin off.
  let admin: string | undefined;
  const adminText = str(c.admin?.identity);
  if (adminText && adminText.toLowerCase() !== "disabled") {
    admin = adminText.startsWith("h1:") ? adminText : h1OfKesHex(adminText);
    if (!admin) fail("admin.identity: expected 64 hex digits (the output of 'kes identity of') or 'disabled'");
  }

  const policies = new Map<string, EdgePolicy>();
  const owner = new Map<string, string>();
  for (const [name, p] of Object.entries(c.policy ?? {})) {
    const allow = [...(p.allow ?? []), ...(p.paths ?? [])];
    for (const pat of [...allow, ...(p.deny ?? [])]) {
      if (!pat.startsWith("/")) fail(`policy.${name}: '${pat}' is not a path pattern (e.g. /v1/key/generate/minio-*)`);
    }
    const identities: string[] = [];
    for (const id of p.identities ?? []) {
      const text = id.trim();
      if (text === "" || text.toLowerCase() === "disabled") continue; // an unset ${VAR}
      const h1 = text.startsWith("h1:") ? text : h1OfKesHex(text);
      if (!h1) fail(`policy.${name}.identities: '${text.slice(0, 80)}' is not an identity (64 hex digits)`);
      if (h1 === admin) fail(`policy.${name}: the admin identity cannot be assigned to a policy`);
      if (owner.has(h1!)) fail(`policy.${name}: identity ${text} is already assigned to policy ${owner.get(h1!)}`);
      owner.set(h1!, name);
      identities.push(h1!);
    }
    policies.set(name, { allow, deny: p.deny ?? [], identities });
  }

  const legacyStore = c.keys && !Array.isArray(c.keys) ? c.keys : undefined;
  const keys = Array.isArray(c.keys) ? c.keys.map((k) => k.name.trim()) : [];
  for (const k of keys) if (!isKeyName(k)) fail(`keys: '${k.slice(0, 80)}' is not a valid key name`);

  const stores = c.keystore ?? legacyStore ?? {};
  const kinds = Object.keys(stores).filter((k) => stores[k] !== null && stores[k] !== undefined);
  if (kinds.length !== 1) fail(`keystore: configure exactly one key store (fs, vault, aws.secretsmanager or kms), found ${kinds.length}`);
  const kind = kinds[0];
  const section = stores[kind];
  let keystore: KeyStoreConfig;
  let probeFromStore: number | undefined;
  const parse = <S extends v.GenericSchema>(schema: S, value: unknown, where: string): v.InferOutput<S> => {
    const r = v.safeParse(schema, value);
    if (!r.success) {
      const path = v.getDotPath(r.issues[0]);
      return fail(`keystore.${where}${path ? "." + path : ""}: ${r.issues[0].message}`);
    }
    return r.output;
  };
  if (kind === "fs") {
    const fs = parse(v.looseObject({ path: Str }), section, "fs");
    if (!str(fs.path)) fail("keystore.fs.path: missing");
    keystore = { kind: "fs", path: str(fs.path) };
  } else if (kind === "vault") {
    const vc = parse(VaultRaw, section, "vault");
    if (vc.kubernetes) fail("keystore.vault.kubernetes: Kubernetes auth is not supported; use approle");
    const version = str(vc.version) || "v1";
    if (version !== "v1" && version !== "v2") fail("keystore.vault.version: use v1 or v2");
    const id = str(vc.approle?.id), secret = str(vc.approle?.secret);
    if (!str(vc.token) && (!id || !secret)) fail("keystore.vault.approle: id and secret are required");
    probeFromStore = vc.status?.ping ? duration(vc.status.ping, "keystore.vault.status.ping", 10_000) : undefined;
    keystore = {
      kind: "vault",
      endpoint: str(vc.endpoint).replace(/\/+$/, ""),
      engine: str(vc.engine) || "kv",
      version: version as "v1" | "v2",
      namespace: str(vc.namespace),
      prefix: str(vc.prefix).replace(/^\/+|\/+$/g, ""),
      approle: id && secret
        ? { engine: str(vc.approle?.engine) || "approle", id, secret, retryMs: duration(vc.approle?.retry, "keystore.vault.approle.retry", 15_000) }
        : undefined,
      token: str(vc.token) || undefined,
      transit: vc.transit && str(vc.transit.key) ? { engine: str(vc.transit.engine) || "transit", key: str(vc.transit.key) } : undefined,
      tls: { key: str(vc.tls?.key) || undefined, cert: str(vc.tls?.cert) || undefined, ca: str(vc.tls?.ca) || undefined },
      pingMs: probeFromStore,
    };
    if (!/^https?:\/\//.test(keystore.endpoint)) fail("keystore.vault.endpoint: expected https://host:port");
  } else if (kind === "aws" || kind === "aws.secretsmanager") {
    const inner = kind === "aws" ? (section as Record<string, unknown>)?.secretsmanager : section;
    if (!inner) fail("keystore.aws: only aws.secretsmanager is supported");
    const a = parse(AwsRaw, inner, "aws.secretsmanager");
    const accessKey = str(a.credentials?.accesskey), secretKey = str(a.credentials?.secretkey);
    keystore = {
      kind: "aws.secretsmanager",
      endpoint: str(a.endpoint) || undefined,
      region: str(a.region),
      kmsKey: str(a.kmskey) || undefined,
      credentials: accessKey && secretKey ? { accessKey, secretKey, token: str(a.credentials?.token) || undefined } : undefined,
    };
    if (!keystore.region) fail("keystore.aws.secretsmanager.region: missing");
  } else if (kind === "kms") {
    const k = parse(KmsRaw, section, "kms");
    const endpoints = [...(Array.isArray(k.endpoint) ? k.endpoint : k.endpoint ? [k.endpoint] : []), ...(k.endpoints ?? [])].map((e) => e.trim()).filter(Boolean);
    if (endpoints.length === 0) fail("keystore.kms.endpoint: at least one host:port");
    const apiKey = str(k.api_key) || str(k.apikey);
    if (!apiKey) fail("keystore.kms.api_key: missing");
    keystore = { kind: "kms", endpoints, enclave: str(k.enclave), apiKey, ca: str(k.tls?.ca) || undefined, insecure: k.insecure === true };
  } else {
    return fail(`keystore.${kind}: this key store is not supported by kms edge (supported: fs, vault, aws.secretsmanager, kms)`);
  }

  const expiry = c.cache?.expiry;
  const cfg: EdgeConfig = {
    address: str(c.address) || "0.0.0.0:7373",
    admin,
    tls: {
      key: c.tls.key,
      cert: c.tls.cert,
      password: str(c.tls.password) || undefined,
      ca: str(c.tls.ca) || undefined,
      verifyClients: onOff(c.tls.auth, false),
    },
    policies,
    cache: {
      anyMs: duration(expiry?.any, "cache.expiry.any", 5 * 60_000),
      unusedMs: duration(expiry?.unused, "cache.expiry.unused", 30_000),
      offlineMs: duration(expiry?.offline, "cache.expiry.offline", 0),
      probeMs: duration(c.cache?.probe, "cache.probe", probeFromStore ?? 10_000) || 10_000,
    },
    log: { error: onOff(c.log?.error, true), audit: onOff(c.log?.audit, false) },
    keys,
    keystore,
  };
  if (cfg.tls.verifyClients && !cfg.tls.ca) fail("tls.auth: verifying client certificates needs tls.ca");
  return cfg;
}

/** Reads and parses a config file. */
export function loadConfig(file: string, env: Record<string, string | undefined> = process.env): EdgeConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfig(text, file, env);
}
