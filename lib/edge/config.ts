/**
 * The edge server's config: KES's YAML config file, unchanged. `${VAR}` in
 * any string is replaced by the environment variable's value. Relative file
 * paths are relative to the working directory, as with KES.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import YAML from "yaml";
import { h1OfKesHex } from "../identity/kes.ts";
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

/** A `${VAR}` in the config whose variable is not set at all (set but empty is fine). */
export class UnsetVariableError extends Error {
  constructor(readonly variable: string, readonly at: string) {
    super(`\${${variable}} is not set (used at ${at || "the top level"}): export it, or set it to an empty value to leave the setting empty`);
  }
}

/** Replaces `${VAR}` in every string of a parsed YAML document; an unset VAR is an UnsetVariableError. */
export function substituteEnv(value: unknown, env: Record<string, string | undefined>, at = ""): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name) => {
      if (env[name] === undefined) throw new UnsetVariableError(name, at);
      return env[name]!;
    });
  }
  if (Array.isArray(value)) return value.map((x, i) => substituteEnv(x, env, `${at}[${i}]`));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, substituteEnv(x, env, at ? `${at}.${k}` : k)]));
  }
  return value;
}

/** The names an object schema accepts at a dotted path of the config (for "did you mean"). */
function knownKeys(schema: v.GenericSchema, path: readonly string[]): string[] {
  let s = schema as v.GenericSchema & { entries?: Record<string, v.GenericSchema>; wrapped?: v.GenericSchema; value?: v.GenericSchema; options?: v.GenericSchema[] };
  const unwrap = () => {
    while (s.wrapped) s = s.wrapped as typeof s;
    if (s.options) s = (s.options.find((o) => (o as typeof s).entries || (o as typeof s).value) ?? s) as typeof s;
    while (s.wrapped) s = s.wrapped as typeof s;
  };
  unwrap();
  for (const key of path) {
    if (s.entries) s = s.entries[key] as typeof s;
    else if (s.value) s = s.value as typeof s;
    else return [];
    if (!s) return [];
    unwrap();
  }
  return s.entries ? Object.keys(s.entries) : [];
}

/** A problem valibot found, as one line: unknown settings are named with their known neighbours. */
function issueText(schema: v.GenericSchema, issue: v.BaseIssue<unknown>, prefix = ""): string {
  const keys = (issue.path ?? []).map((p) => String(p.key));
  const where = prefix + keys.join(".");
  if (issue.expected === "never" && keys.length) {
    const known = knownKeys(schema, keys.slice(0, -1));
    const near = known.filter((k) => k.toLowerCase() === keys[keys.length - 1].toLowerCase() || levenshtein1(k, keys[keys.length - 1]));
    return `unknown setting ${where}${near.length ? ` (did you mean ${near.join(" or ")}?)` : known.length ? ` (known here: ${known.join(", ")})` : ""}`;
  }
  if (issue.received === "undefined") return `${where}: missing`;
  return `${where ? where + ": " : ""}${issue.message}`;
}

/** The issue to report: a misspelt setting first (it often explains a missing one). */
function firstIssue(issues: readonly v.BaseIssue<unknown>[]): v.BaseIssue<unknown> {
  return issues.find((i) => i.expected === "never") ?? issues[0];
}

/** Whether two names are one edit (insert, delete, replace or swap of neighbours) apart. */
function levenshtein1(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(i + 1) === b.slice(i + 1) || a.slice(i) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i) ||
    (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2));
}

const Str = v.string();
const OptStr = v.optional(v.nullable(v.union([v.string(), v.number()])));
const Duration = v.optional(v.nullable(v.union([v.string(), v.number()])));
const OnOff = v.optional(v.nullable(v.union([v.string(), v.boolean()])));
const Patterns = v.optional(v.nullable(v.array(v.string())), []);

// Strict objects: a misspelt setting is an error. Settings KES has that this
// server does not use (api, tls.proxy, root, …) are accepted and ignored.
const Ignored = v.optional(v.unknown());
const RawConfig = v.strictObject({
  version: OptStr,
  address: OptStr,
  root: Ignored, // KES before 0.14: the admin identity (use admin.identity)
  admin: v.optional(v.nullable(v.strictObject({ identity: OptStr }))),
  tls: v.strictObject({
    key: Str,
    cert: Str,
    password: OptStr,
    auth: OnOff,
    ca: OptStr,
    proxy: Ignored,
  }),
  policy: v.optional(v.nullable(v.record(v.string(), v.strictObject({
    allow: Patterns,
    deny: Patterns,
    paths: Patterns, // KES before 0.14
    identities: Patterns,
  })))),
  cache: v.optional(v.nullable(v.strictObject({
    expiry: v.optional(v.nullable(v.strictObject({ any: Duration, unused: Duration, offline: Duration }))),
    probe: Duration,
  }))),
  log: v.optional(v.nullable(v.strictObject({ error: OnOff, audit: OnOff }))),
  // A list of keys to create; KES before 0.14 used a mapping here for the key store.
  keys: v.optional(v.nullable(v.union([v.array(v.strictObject({ name: Str })), v.record(v.string(), v.unknown())]))),
  keystore: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
  api: Ignored,
});

const FsRaw = v.strictObject({ path: Str });

const VaultRaw = v.strictObject({
  endpoint: Str,
  engine: OptStr,
  version: OptStr,
  namespace: OptStr,
  prefix: OptStr,
  token: OptStr,
  approle: v.optional(v.nullable(v.strictObject({ namespace: OptStr, engine: OptStr, id: OptStr, secret: OptStr, retry: Duration }))),
  kubernetes: v.optional(v.unknown()),
  transit: v.optional(v.nullable(v.strictObject({ engine: OptStr, key: OptStr }))),
  tls: v.optional(v.nullable(v.strictObject({ key: OptStr, cert: OptStr, ca: OptStr }))),
  status: v.optional(v.nullable(v.strictObject({ ping: Duration }))),
});

const AwsRaw = v.strictObject({
  endpoint: OptStr,
  region: Str,
  kmskey: OptStr,
  credentials: v.optional(v.nullable(v.strictObject({ accesskey: OptStr, secretkey: OptStr, token: OptStr }))),
});

const KmsRaw = v.strictObject({
  endpoint: v.optional(v.nullable(v.union([v.string(), v.array(v.string())]))),
  endpoints: v.optional(v.nullable(v.array(v.string()))),
  enclave: Str,
  api_key: OptStr,
  apikey: OptStr,
  insecure: v.optional(v.nullable(v.boolean())),
  tls: v.optional(v.nullable(v.strictObject({ ca: OptStr }))),
});

const str = (x: unknown): string => (x === undefined || x === null ? "" : String(x)).trim();
const onOff = (x: unknown, fallback: boolean): boolean => {
  if (x === undefined || x === null || x === "") return fallback;
  if (typeof x === "boolean") return x;
  return /^(on|true|yes|1|verify)$/i.test(String(x).trim());
};

/** How the parts of parseConfig report a problem and read the values they share. */
interface Reader {
  /** Throws a ConfigError naming the file. */
  fail(msg: string): never;
  /** A duration setting in ms (`fallback` when unset). */
  duration(x: unknown, name: string, fallback: number): number;
}

/** Parses and validates config text; `file` only names it in errors. */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): EdgeConfig {
  const c = readDocument(text, file, env);
  const fail = (msg: string): never => {
    throw new ConfigError(`${file}: ${msg}`);
  };
  const r: Reader = {
    fail,
    duration(x, name, fallback) {
      if (x === undefined || x === null || x === "") return fallback;
      try {
        return parseDuration(x as string | number);
      } catch (err) {
        return fail(`${name}: ${(err as Error).message}`);
      }
    },
  };
  const admin = adminOf(c, r);
  const policies = policiesOf(c, admin, r);
  const keys = Array.isArray(c.keys) ? c.keys.map((k) => k.name.trim()) : [];
  for (const k of keys) if (!isKeyName(k)) fail(`keys: '${k.slice(0, 80)}' is not a valid key name`);
  const { keystore, probeMs } = keystoreOf(c, r);
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
      anyMs: r.duration(expiry?.any, "cache.expiry.any", 5 * 60_000),
      unusedMs: r.duration(expiry?.unused, "cache.expiry.unused", 30_000),
      offlineMs: r.duration(expiry?.offline, "cache.expiry.offline", 0),
      probeMs: r.duration(c.cache?.probe, "cache.probe", probeMs ?? 10_000) || 10_000,
    },
    log: { error: onOff(c.log?.error, true), audit: onOff(c.log?.audit, false) },
    keys,
    keystore,
  };
  if (cfg.tls.verifyClients && !cfg.tls.ca) fail("tls.auth: verifying client certificates needs tls.ca");
  return cfg;
}

type Raw = v.InferOutput<typeof RawConfig>;

/** The YAML document, its ${VAR}s substituted, checked against the config's shape. */
function readDocument(text: string, file: string, env: Record<string, string | undefined>): Raw {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  let substituted: unknown;
  try {
    substituted = substituteEnv(doc ?? {}, env);
  } catch (err) {
    if (err instanceof UnsetVariableError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
  const raw = v.safeParse(RawConfig, substituted);
  if (!raw.success) throw new ConfigError(`${file}: ${issueText(RawConfig, firstIssue(raw.issues))}`);
  return raw.output;
}

/** admin.identity: hex (or h1:); "disabled", "" or absent switch the admin off. */
function adminOf(c: Raw, r: Reader): string | undefined {
  const adminText = str(c.admin?.identity);
  if (!adminText || adminText.toLowerCase() === "disabled") return undefined;
  const admin = adminText.startsWith("h1:") ? adminText : h1OfKesHex(adminText);
  return admin ?? r.fail("admin.identity: expected 64 hex digits (the output of 'kes identity of') or 'disabled'");
}

/** The policies, each identity (as h1:) in at most one of them and never the admin. */
function policiesOf(c: Raw, admin: string | undefined, r: Reader): Map<string, EdgePolicy> {
  const policies = new Map<string, EdgePolicy>();
  const owner = new Map<string, string>();
  for (const [name, p] of Object.entries(c.policy ?? {})) {
    const allow = [...(p.allow ?? []), ...(p.paths ?? [])];
    for (const pat of [...allow, ...(p.deny ?? [])]) {
      if (!pat.startsWith("/")) r.fail(`policy.${name}: '${pat}' is not a path pattern (e.g. /v1/key/generate/minio-*)`);
    }
    const identities: string[] = [];
    for (const id of p.identities ?? []) {
      const text = id.trim();
      if (text === "" || text.toLowerCase() === "disabled") continue; // an unset ${VAR}
      const h1 = (text.startsWith("h1:") ? text : h1OfKesHex(text)) ?? r.fail(`policy.${name}.identities: '${text.slice(0, 80)}' is not an identity (64 hex digits)`);
      if (h1 === admin) r.fail(`policy.${name}: the admin identity cannot be assigned to a policy`);
      if (owner.has(h1)) r.fail(`policy.${name}: identity ${text} is already assigned to policy ${owner.get(h1)}`);
      owner.set(h1, name);
      identities.push(h1);
    }
    policies.set(name, { allow, deny: p.deny ?? [], identities });
  }
  return policies;
}

/** The one key store configured (keystore:, or KES's older keys: section), and the probe interval it asks for. */
function keystoreOf(c: Raw, r: Reader): { keystore: KeyStoreConfig; probeMs?: number } {
  const legacyStore = c.keys && !Array.isArray(c.keys) ? c.keys : undefined;
  const stores = c.keystore ?? legacyStore ?? {};
  const kinds = Object.keys(stores).filter((k) => stores[k] !== null && stores[k] !== undefined);
  if (kinds.length !== 1) r.fail(`keystore: configure exactly one key store (fs, vault, aws.secretsmanager or kms), found ${kinds.length}`);
  const kind = kinds[0];
  const section = stores[kind];
  const parse = <S extends v.GenericSchema>(schema: S, value: unknown, where: string): v.InferOutput<S> => {
    const p = v.safeParse(schema, value);
    return p.success ? p.output : r.fail(issueText(schema, firstIssue(p.issues), `keystore.${where}.`));
  };
  if (kind === "fs") {
    const fs = parse(FsRaw, section, "fs");
    if (!str(fs.path)) r.fail("keystore.fs.path: missing");
    return { keystore: { kind: "fs", path: str(fs.path) } };
  }
  if (kind === "vault") return vaultStore(parse(VaultRaw, section, "vault"), r);
  if (kind === "aws" || kind === "aws.secretsmanager") {
    const inner = kind === "aws" ? (section as Record<string, unknown>)?.secretsmanager : section;
    if (!inner) r.fail("keystore.aws: only aws.secretsmanager is supported");
    return { keystore: awsStore(parse(AwsRaw, inner, "aws.secretsmanager"), r) };
  }
  if (kind === "kms") return { keystore: kmsStore(parse(KmsRaw, section, "kms"), r) };
  return r.fail(`keystore.${kind}: this key store is not supported by kms edge (supported: fs, vault, aws.secretsmanager, kms)`);
}

function vaultStore(vc: v.InferOutput<typeof VaultRaw>, r: Reader): { keystore: KeyStoreConfig; probeMs?: number } {
  if (vc.kubernetes) r.fail("keystore.vault.kubernetes: Kubernetes auth is not supported; use approle");
  const version = str(vc.version) || "v1";
  if (version !== "v1" && version !== "v2") r.fail("keystore.vault.version: use v1 or v2");
  const id = str(vc.approle?.id), secret = str(vc.approle?.secret);
  if (!str(vc.token) && (!id || !secret)) r.fail("keystore.vault.approle: id and secret are required");
  const probeMs = vc.status?.ping ? r.duration(vc.status.ping, "keystore.vault.status.ping", 10_000) : undefined;
  const keystore: KeyStoreConfig = {
    kind: "vault",
    endpoint: str(vc.endpoint).replace(/\/+$/, ""),
    engine: str(vc.engine) || "kv",
    version: version as "v1" | "v2",
    namespace: str(vc.namespace),
    prefix: str(vc.prefix).replace(/^\/+|\/+$/g, ""),
    approle: id && secret
      ? { engine: str(vc.approle?.engine) || "approle", id, secret, retryMs: r.duration(vc.approle?.retry, "keystore.vault.approle.retry", 15_000) }
      : undefined,
    token: str(vc.token) || undefined,
    transit: vc.transit && str(vc.transit.key) ? { engine: str(vc.transit.engine) || "transit", key: str(vc.transit.key) } : undefined,
    tls: { key: str(vc.tls?.key) || undefined, cert: str(vc.tls?.cert) || undefined, ca: str(vc.tls?.ca) || undefined },
    pingMs: probeMs,
  };
  if (!/^https?:\/\//.test(keystore.endpoint)) r.fail("keystore.vault.endpoint: expected https://host:port");
  return { keystore, probeMs };
}

function awsStore(a: v.InferOutput<typeof AwsRaw>, r: Reader): KeyStoreConfig {
  const accessKey = str(a.credentials?.accesskey), secretKey = str(a.credentials?.secretkey);
  const region = str(a.region);
  if (!region) r.fail("keystore.aws.secretsmanager.region: missing");
  return {
    kind: "aws.secretsmanager",
    endpoint: str(a.endpoint) || undefined,
    region,
    kmsKey: str(a.kmskey) || undefined,
    credentials: accessKey && secretKey ? { accessKey, secretKey, token: str(a.credentials?.token) || undefined } : undefined,
  };
}

function kmsStore(k: v.InferOutput<typeof KmsRaw>, r: Reader): KeyStoreConfig {
  const endpoints = [...(Array.isArray(k.endpoint) ? k.endpoint : k.endpoint ? [k.endpoint] : []), ...(k.endpoints ?? [])].map((e) => e.trim()).filter(Boolean);
  if (endpoints.length === 0) r.fail("keystore.kms.endpoint: at least one host:port");
  const apiKey = str(k.api_key) || str(k.apikey);
  if (!apiKey) r.fail("keystore.kms.api_key: missing");
  return { kind: "kms", endpoints, enclave: str(k.enclave), apiKey, ca: str(k.tls?.ca) || undefined, insecure: k.insecure === true };
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
