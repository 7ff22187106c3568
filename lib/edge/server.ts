/**
 * `kms edge`: a stateless KES-compatible server in front of an external key
 * store. Start-up: read the config, open the store, probe it, create the
 * config's `keys`, serve the KES API over TLS. reload() re-reads the config:
 * policies, admin, cache expiry, logging and the TLS certificate change in
 * place; a different address or key store needs a restart.
 */
import { readFileSync } from "node:fs";
import { Hono } from "hono";
import type { ConnectionLimits } from "../net/connections.ts";
import type { Env } from "../net/env.ts";
import { onAppError } from "../net/errors.ts";
import { kesRoutes } from "../api/kes/routes.ts";
import { type Listener, serveTls } from "../net/serve.ts";
import { randomBytes } from "../crypto/random.ts";
import { parseListenAddress, reachableUrls } from "../net/address.ts";
import { VERSION } from "../version.ts";
import { edgeBackend } from "./backend.ts";
import { KeyCache } from "./cache.ts";
import { ConfigError, type EdgeConfig, loadConfig } from "./config.ts";
import { KeyExistsError, type KeyStore } from "./keystore.ts";
import { EdgeAccess } from "./policy.ts";
import { describeStore, openKeyStore } from "./stores/open.ts";

/** A running edge server. */
export interface RunningEdge {
  readonly urls: string[];
  readonly port: number;
  readonly store: string;
  config(): EdgeConfig;
  /** Re-reads the config file; throws ConfigError (keeping the old config) when it is invalid. */
  reload(): Promise<string[]>;
  close(): Promise<void>;
}

export interface EdgeOptions {
  readonly configFile: string;
  /** Overrides the config's address (e.g. for tests). */
  readonly address?: string;
  readonly env?: Record<string, string | undefined>;
  /** Where log lines go (default: stderr for errors, stdout for audit). */
  readonly logError?: (line: string) => void;
  readonly logAudit?: (line: string) => void;
  /** Connection deadlines and cap (default DEFAULT_LIMITS). */
  readonly limits?: Partial<ConnectionLimits>;
}

/** Reads the TLS files of a config. */
function readTls(cfg: EdgeConfig) {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read ${what} ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    key: read(cfg.tls.key, "tls.key"),
    cert: read(cfg.tls.cert, "tls.cert"),
    passphrase: cfg.tls.password,
    ca: cfg.tls.ca ? read(cfg.tls.ca, "tls.ca") : undefined,
  };
}

/** Creates the config's `keys` that do not exist yet. */
async function createKeys(store: KeyStore, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await store.create(name, { type: "AES256", material: randomBytes(32), hmacKey: randomBytes(32), createdAt: Date.now(), createdBy: "" });
    } catch (err) {
      if (!(err instanceof KeyExistsError)) throw new Error(`cannot create key ${name} from the config: ${(err as Error).message}`);
    }
  }
}

export async function startEdge(opts: EdgeOptions): Promise<RunningEdge> {
  const env = opts.env ?? process.env;
  let cfg = loadConfig(opts.configFile, env);
  const address = opts.address ?? cfg.address;
  let hostname: string, port: number;
  try {
    ({ hostname, port } = parseListenAddress(address));
  } catch (err) {
    throw new ConfigError(`${opts.configFile}: address: ${(err as Error).message}`);
  }
  let tls = readTls(cfg);
  const errorLine = opts.logError ?? ((l: string) => console.error(l));
  const auditLine = opts.logAudit ?? ((l: string) => console.log(l));
  const logError = (msg: string) => {
    if (cfg.log.error) errorLine(`kms edge: ${msg}`);
  };

  const store = await openKeyStore(cfg.keystore);
  const cache = new KeyCache(store, cfg.cache);
  cache.onChange = (online, why) => logError(online ? "key store is reachable again" : `key store is not reachable: ${why}`);
  let listener: Listener | undefined;
  try {
    await cache.startProbe(cfg.cache.probeMs);
    await createKeys(store, cfg.keys);
    let access = new EdgeAccess(cfg.admin, cfg.policies);
    const startedAt = Date.now();
    const backend = edgeBackend({ store, cache, access: () => access, logError, startedAt });
    const app = new Hono<Env>();
    app.get("/version", (c) => c.json({ version: VERSION, commit: "" }));
    app.route("/", kesRoutes({
      backend: () => backend,
      version: VERSION,
      startedAt,
      audit: (e) => {
        if (cfg.log.audit) auditLine(JSON.stringify(e));
      },
    }));
    app.notFound((c) => c.json({ message: "not found" }, 404));
    app.onError(onAppError(logError));
    listener = await serveTls(app, { ...tls, hostname, port, verifyClients: cfg.tls.verifyClients, limits: opts.limits });
    const bound = listener;
    return {
      urls: reachableUrls(hostname, bound.port),
      port: bound.port,
      store: describeStore(cfg.keystore),
      config: () => cfg,
      async reload() {
        const next = loadConfig(opts.configFile, env);
        const notes: string[] = [];
        if (JSON.stringify(next.keystore) !== JSON.stringify(cfg.keystore)) notes.push("keystore changed: restart to use the new key store");
        if (next.address !== cfg.address) notes.push("address changed: restart to listen on the new address");
        if (next.tls.verifyClients !== cfg.tls.verifyClients) notes.push("tls.auth changed: restart to apply it");
        const nextTls = readTls(next);
        bound.setTls(nextTls);
        tls = nextTls;
        access = new EdgeAccess(next.admin, next.policies);
        cache.setExpiry(next.cache);
        if (next.cache.probeMs !== cfg.cache.probeMs) void cache.startProbe(next.cache.probeMs);
        cfg = { ...next, keystore: cfg.keystore, address: cfg.address };
        await createKeys(store, next.keys).catch((err) => notes.push((err as Error).message));
        return notes;
      },
      async close() {
        cache.close();
        await bound.close();
        await store.close();
      },
    };
  } catch (err) {
    cache.close();
    await listener?.close();
    await store.close();
    throw err;
  }
}
