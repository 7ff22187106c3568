/**
 * A Vault stand-in for tests, because no Vault binary can be installed here.
 * It follows Vault's documented HTTP API for exactly the endpoints the edge
 * server's vault key store uses, over HTTPS with a certificate made here:
 *
 *   GET  /v1/sys/health
 *   POST /v1/auth/<approle>/login               {role_id, secret_id} → {auth: {client_token, lease_duration, renewable}}
 *   POST /v1/auth/token/renew-self              → {auth: {...}}
 *   KV v1: GET|PUT|POST|DELETE /v1/<mount>/<path>, GET ...?list=true
 *   KV v2: POST|PUT /v1/<mount>/data/<path> {data, options: {cas}}, GET /v1/<mount>/data/<path>,
 *          DELETE /v1/<mount>/metadata/<path>, GET /v1/<mount>/metadata/<path>?list=true
 *   transit: POST /v1/<mount>/encrypt/<key> {plaintext}, POST /v1/<mount>/decrypt/<key> {ciphertext}
 *
 * Errors are {"errors": [...]} with Vault's statuses (400, 403, 404). Tokens
 * expire after their TTL; X-Vault-Namespace is required when a namespace is set.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { onCleanup, writeServerTls } from "./kes.ts";

export interface VaultOptions {
  readonly dir: string;
  /** mount → KV version (1 or 2). */
  readonly kv?: Record<string, 1 | 2>;
  readonly transitMount?: string;
  readonly approleMount?: string;
  readonly tokenTtlSec?: number;
  readonly namespace?: string;
}

export interface VaultTestServer {
  readonly endpoint: string;
  readonly port: number;
  readonly ca: string;
  readonly caFile: string;
  readonly roleId: string;
  readonly secretId: string;
  readonly stats: { logins: number; renewals: number; denied: number; casConflicts: number };
  /** The stored JSON object at mount/path (v2: the latest version's data). */
  read(mount: string, path: string): Record<string, unknown> | undefined;
  /** Writes an entry directly, as another Vault client would. */
  write(mount: string, path: string, data: Record<string, unknown>): void;
  /** Invalidates every token, as a Vault restart with short leases or a revocation would. */
  revokeAll(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

type Json = Record<string, unknown>;

export async function startVault(opts: VaultOptions): Promise<VaultTestServer> {
  const tls = writeServerTls(opts.dir, "vault-tls");
  const kv = opts.kv ?? { kv: 1 };
  const transitMount = opts.transitMount ?? "transit";
  const approleMount = opts.approleMount ?? "approle";
  const ttl = opts.tokenTtlSec ?? 3600;
  const roleId = randomBytes(8).toString("hex"), secretId = randomBytes(16).toString("hex");
  const tokens = new Map<string, number>();
  const v1 = new Map<string, Json>();
  const v2 = new Map<string, { version: number; data: Json }>();
  const transitKeys = new Map<string, Buffer>();
  const stats = { logins: 0, renewals: 0, denied: 0, casConflicts: 0 };

  const newToken = () => {
    const t = "hvs." + randomBytes(12).toString("base64url");
    tokens.set(t, Date.now() + ttl * 1000);
    return t;
  };
  const valid = (t: string | undefined) => t !== undefined && (tokens.get(t) ?? 0) > Date.now();
  const auth = (token: string) => ({ auth: { client_token: token, accessor: "x", policies: ["default"], lease_duration: ttl, renewable: true } });
  const listUnder = (keys: Iterable<string>, prefix: string) => {
    const out = new Set<string>();
    for (const k of keys) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const slash = rest.indexOf("/");
      out.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    return [...out].filter(Boolean).sort();
  };

  function handle(method: string, url: URL, headers: Record<string, string | string[] | undefined>, body: Json | undefined): [number, unknown] {
    const p = url.pathname;
    if (method === "GET" && p === "/v1/sys/health") return [200, { initialized: true, sealed: false, standby: false, version: "1.15.0+test" }];
    if (method === "POST" && p === `/v1/auth/${approleMount}/login`) {
      if (body?.role_id !== roleId || body?.secret_id !== secretId) return [400, { errors: ["invalid role or secret ID"] }];
      stats.logins++;
      return [200, auth(newToken())];
    }
    const token = headers["x-vault-token"] as string | undefined;
    if (!valid(token)) {
      stats.denied++;
      return [403, { errors: ["permission denied"] }];
    }
    if (method === "POST" && p === "/v1/auth/token/renew-self") {
      tokens.set(token!, Date.now() + ttl * 1000);
      stats.renewals++;
      return [200, auth(token!)];
    }
    if (opts.namespace && headers["x-vault-namespace"] !== opts.namespace) return [404, { errors: ["no handler for route"] }];
    const parts = p.replace(/^\/v1\//, "").split("/").map(decodeURIComponent);
    const mount = parts[0];
    const list = url.searchParams.get("list") === "true" || method === "LIST";
    if (mount === transitMount && method === "POST" && parts.length === 3) {
      const key = transitKeys.get(parts[2]) ?? randomBytes(32);
      transitKeys.set(parts[2], key);
      if (parts[1] === "encrypt") {
        const iv = randomBytes(12);
        const c = createCipheriv("aes-256-gcm", key, iv);
        const ct = Buffer.concat([iv, c.update(Buffer.from(String(body?.plaintext ?? ""), "base64")), c.final(), c.getAuthTag()]);
        return [200, { data: { ciphertext: "vault:v1:" + ct.toString("base64"), key_version: 1 } }];
      }
      if (parts[1] === "decrypt") {
        const raw = Buffer.from(String(body?.ciphertext ?? "").replace(/^vault:v1:/, ""), "base64");
        try {
          const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
          d.setAuthTag(raw.subarray(raw.length - 16));
          const pt = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
          return [200, { data: { plaintext: pt.toString("base64") } }];
        } catch {
          return [400, { errors: ["cipher: message authentication failed"] }];
        }
      }
    }
    const version = kv[mount];
    if (version === 1) {
      const path = parts.slice(1).join("/");
      if (method === "GET" && list) {
        const keys = listUnder([...v1.keys()].filter((k) => k.startsWith(mount + "/")).map((k) => k.slice(mount.length + 1)), path ? path.replace(/\/?$/, "/") : "");
        return keys.length ? [200, { data: { keys } }] : [404, { errors: [] }];
      }
      const k = `${mount}/${path}`;
      if (method === "GET") return v1.has(k) ? [200, { data: v1.get(k), lease_duration: 2764800 }] : [404, { errors: [] }];
      if (method === "PUT" || method === "POST") {
        v1.set(k, body ?? {});
        return [204, undefined];
      }
      if (method === "DELETE") {
        v1.delete(k);
        return [204, undefined];
      }
    }
    if (version === 2) {
      const kind = parts[1];
      const path = parts.slice(2).join("/");
      const k = `${mount}/${path}`;
      if (kind === "data" && (method === "POST" || method === "PUT")) {
        const cur = v2.get(k);
        const cas = (body?.options as Json | undefined)?.cas;
        if (cas !== undefined && Number(cas) !== (cur?.version ?? 0)) {
          stats.casConflicts++;
          return [400, { errors: ["check-and-set parameter did not match the current version"] }];
        }
        const next = { version: (cur?.version ?? 0) + 1, data: (body?.data as Json) ?? {} };
        v2.set(k, next);
        return [200, { data: { version: next.version, created_time: new Date().toISOString(), deletion_time: "", destroyed: false } }];
      }
      if (kind === "data" && method === "GET") {
        const cur = v2.get(k);
        return cur ? [200, { data: { data: cur.data, metadata: { version: cur.version, deletion_time: "", destroyed: false } } }] : [404, { errors: [] }];
      }
      if (kind === "metadata" && method === "DELETE") {
        v2.delete(k);
        return [204, undefined];
      }
      if (kind === "metadata" && method === "GET" && list) {
        const keys = listUnder([...v2.keys()].filter((x) => x.startsWith(mount + "/")).map((x) => x.slice(mount.length + 1)), path ? path.replace(/\/?$/, "/") : "");
        return keys.length ? [200, { data: { keys } }] : [404, { errors: [] }];
      }
    }
    return [404, { errors: ["no handler for route"] }];
  }

  const sockets = new Set<Socket>();
  let server: https.Server | undefined;
  let port = 0;
  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      const s = https.createServer({ key: readFileSync(tls.keyFile, "utf8"), cert: tls.cert }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          let body: Json | undefined;
          try {
            body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
          } catch {
            res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ errors: ["failed to parse JSON input"] }));
            return;
          }
          const [status, reply] = handle(req.method ?? "GET", new URL(req.url ?? "/", "https://vault"), req.headers, body);
          if (reply === undefined) res.writeHead(status).end();
          else res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(reply));
        });
      });
      s.on("connection", (sock: Socket) => {
        sockets.add(sock);
        sock.once("close", () => sockets.delete(sock));
      });
      s.once("error", reject);
      s.listen(at, "127.0.0.1", () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  await listen(0);
  onCleanup(() => stop());

  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      const s = server;
      server = undefined;
      s.close(() => resolve());
      for (const sock of sockets) sock.destroy();
    });

  return {
    get endpoint() {
      return `https://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    ca: tls.cert,
    caFile: tls.certFile,
    roleId,
    secretId,
    stats,
    read(mount, path) {
      return kv[mount] === 2 ? v2.get(`${mount}/${path}`)?.data : v1.get(`${mount}/${path}`);
    },
    write(mount, path, data) {
      if (kv[mount] === 2) v2.set(`${mount}/${path}`, { version: (v2.get(`${mount}/${path}`)?.version ?? 0) + 1, data });
      else v1.set(`${mount}/${path}`, data);
    },
    revokeAll: () => tokens.clear(),
    stop,
    start: () => listen(port),
  };
}
