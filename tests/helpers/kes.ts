/**
 * Helpers for the KES and edge end-to-end tests: TLS material and client
 * identities made here, a KES JSON client with client certificates, `kms
 * edge` processes, moto_server, free ports and waiting with deadlines.
 * Nothing here sleeps to synchronise: everything waits for a condition.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { clientCredentials, kesApiKeyFromSeed, parseApiKey } from "../../lib/identity/apikey.ts";
import { newServerKey, selfSignedCertificate } from "../../lib/identity/x509.ts";
import { cleanup as kmsCleanup, kmsCommand, tempDir } from "./kms.ts";

export { tempDir };

const cleanups: Array<() => void | Promise<void>> = [];

/** Registers a cleanup to run in cleanup(). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** Stops every process this module started, then the kms helpers' cleanups. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
  await kmsCleanup();
}

/** Polls cond until it returns a truthy value, failing after timeoutMs with `what`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

// ---------------------------------------------------------------- identities and TLS

/** A client of the KES API: its API keys, KES hex identity and PEM credentials. */
export interface KesClientId {
  readonly apiKey: string;
  readonly kesApiKey: string;
  /** Lowercase hex SHA-256 of the SPKI, as KES names identities. */
  readonly hex: string;
  readonly h1: string;
  readonly cert: string;
  readonly key: string;
}

/** A fresh client identity from a random Ed25519 seed. */
export function newClientId(): KesClientId {
  return clientIdOf(kesApiKeyFromSeed(new Uint8Array(randomBytes(32))));
}

/** The client identity of an API key (k1:, k2: or kes:v1:). */
export function clientIdOf(apiKeyText: string): KesClientId {
  const parsed = parseApiKey(apiKeyText);
  const kesApiKey = apiKeyText.startsWith("kes:v1:") ? apiKeyText : "";
  const seedText = kesApiKey ? Buffer.from(kesApiKey.slice(7), "base64").subarray(1).toString("base64url") : "";
  const creds = clientCredentials(parsed);
  const spki = createPublicKey(parsed.privateKey).export({ type: "spki", format: "der" });
  return {
    apiKey: kesApiKey ? "k1:" + seedText : apiKeyText,
    kesApiKey,
    hex: createHash("sha256").update(spki).digest("hex"),
    h1: parsed.identity,
    cert: creds.cert,
    key: creds.key,
  };
}

/** A self-signed server certificate for 127.0.0.1 and localhost, written as key and cert files in dir. */
export function writeServerTls(dir: string, base = "server"): { keyFile: string; certFile: string; cert: string } {
  const key = newServerKey();
  const cert = selfSignedCertificate({ privateKey: key, commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], days: 30, purpose: "server" });
  const keyFile = path.join(dir, `${base}.key`), certFile = path.join(dir, `${base}.crt`);
  writeFileSync(keyFile, key.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
  writeFileSync(certFile, cert);
  return { keyFile, certFile, cert };
}

/** The head of a KES config: a listen address, the admin identity and the TLS files writeServerTls wrote in dir. */
export function edgeConfigHead(dir: string, adminHex: string, base = "server"): string {
  return `address: 127.0.0.1:0
admin:
  identity: ${adminHex}
tls:
  key: ${path.join(dir, `${base}.key`)}
  cert: ${path.join(dir, `${base}.crt`)}
`;
}

// ---------------------------------------------------------------- KES HTTP client

/** Where a KES server listens and which certificate to trust. */
export interface KesTarget {
  readonly port: number;
  readonly ca: string;
}

/** A KES reply. */
export interface KesReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/** A raw reply: status, headers and body bytes. */
export interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * One HTTPS request to 127.0.0.1 on a fresh connection, with `client`'s
 * certificate if given, written apart from kms's own transport (the tests'
 * clients must not share the server's code).
 */
export function httpsRequest(target: KesTarget, client: KesClientId | null | undefined, method: string, urlPath: string, payload?: Buffer, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1", port: target.port, method, path: urlPath, agent: false, ca: target.ca, servername: "localhost",
      ...(client ? { cert: client.cert, key: client.key } : {}),
      headers: { ...(payload ? { "content-length": String(payload.length) } : {}), ...headers },
      timeout: 20_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: no reply within the deadline`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** One request on a fresh connection; body objects are sent as JSON, strings and bytes as they are. */
export async function kes(target: KesTarget, method: string, urlPath: string, opts: { client?: KesClientId | null; body?: unknown } = {}): Promise<KesReply> {
  const body = opts.body === undefined ? undefined
    : typeof opts.body === "string" || opts.body instanceof Uint8Array ? Buffer.from(opts.body as string)
    : Buffer.from(JSON.stringify(opts.body));
  const r = await httpsRequest(target, opts.client, method, urlPath, body, body ? { "content-type": "application/json" } : {});
  const text = r.body.toString("utf8");
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export const b64 = (b: Uint8Array | string) => Buffer.from(b).toString("base64");
export const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** The contexts MinIO sends: canonical JSON string maps. */
export const MINIO_CONTEXT = b64('{"bucket":"bucket/object"}');
export const HEALTH_CONTEXT = b64('{"healthcheck":""}');

// ---------------------------------------------------------------- kms edge processes

/** A running `kms edge`. */
export interface EdgeProcess extends KesTarget {
  readonly process: ChildProcess;
  readonly configFile: string;
  output(): string;
  /** Sends SIGHUP and waits for the reload line (or the failure line). */
  reload(): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Starts `kms edge --config FILE --addr 127.0.0.1:0` in cwd and waits until it listens. */
export async function startEdge(opts: { configFile: string; ca: string; cwd?: string; binary?: string; env?: Record<string, string>; timeoutMs?: number; addr?: string }): Promise<EdgeProcess> {
  const [cmd, ...pre] = kmsCommand(opts.binary);
  const child = spawn(cmd, [...pre, "edge", "--config", opts.configFile, "--addr", opts.addr ?? "127.0.0.1:0"], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  const alive = () => child.exitCode === null && child.signalCode === null;
  cleanups.push(async () => {
    if (alive()) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  const port = await waitFor(() => {
    if (!alive()) throw new Error(`kms edge exited before it was ready:\n${out}`);
    const m = /Listening on\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, `kms edge to listen:\n${out}`, opts.timeoutMs ?? 30_000).catch((err) => {
    throw new Error(`${(err as Error).message}\n--- output ---\n${out}`);
  });
  return {
    port,
    ca: opts.ca,
    process: child,
    configFile: opts.configFile,
    output: () => out,
    async reload() {
      const before = out.length;
      child.kill("SIGHUP");
      return waitFor(() => {
        const m = /kms edge: (reloaded[^\n]*|reload failed[^\n]*)/.exec(out.slice(before));
        return m?.[1];
      }, "the reload line");
    },
    async stop(signal = "SIGTERM") {
      if (!alive()) return child.exitCode ?? 128;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

// ---------------------------------------------------------------- moto_server

/** A running moto_server (AWS emulator) on 127.0.0.1. */
export interface Moto {
  readonly port: number;
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto_server on a free port and waits until it answers HTTP. */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (alive()) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  cleanups.push(stop);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (!alive()) throw new Error(`moto_server exited:\n${out}`);
    try {
      return (await fetch(`${endpoint}/moto-api/`)).status > 0;
    } catch {
      return false;
    }
  }, "moto_server to answer", 30_000, 50);
  return { port, endpoint, stop };
}

// ---------------------------------------------------------------- MinIO's call sequence

/**
 * The calls MinIO makes to KES, with its expectations: start-up generate on
 * the default key with an empty context, create on "key does not exist",
 * the health-check generate with {"healthcheck":""}, then per object a
 * generate and a decrypt with {"bucket":"bucket/object"}.
 */
export async function minioSequence(target: KesTarget, client: KesClientId, keyName: string, assert: typeof import("node:assert/strict")): Promise<void> {
  const version = await kes(target, "GET", "/version");
  assert.equal(version.status, 200);
  assert.equal(typeof version.json.version, "string");

  const first = await kes(target, "POST", `/v1/key/generate/${keyName}`, { client, body: { context: "" } });
  assert.equal(first.status, 404, first.text);
  assert.deepEqual(first.json, { message: "key does not exist" });
  assert.match(String(first.headers["content-type"]), /application\/json/);

  const created = await kes(target, "POST", `/v1/key/create/${keyName}`, { client });
  assert.equal(created.status, 200, created.text);
  const again = await kes(target, "POST", `/v1/key/create/${keyName}`, { client });
  assert.equal(again.status, 400, again.text);
  assert.deepEqual(again.json, { message: "key already exists" });

  const startup = await kes(target, "POST", `/v1/key/generate/${keyName}`, { client, body: { context: "" } });
  assert.equal(startup.status, 200, startup.text);
  assert.equal(unb64(startup.json.plaintext).length, 32);

  const health = await kes(target, "POST", `/v1/key/generate/${keyName}`, { client, body: { context: HEALTH_CONTEXT } });
  assert.equal(health.status, 200, health.text);

  const dek = await kes(target, "POST", `/v1/key/generate/${keyName}`, { client, body: { context: MINIO_CONTEXT } });
  assert.equal(dek.status, 200, dek.text);
  const opened = await kes(target, "POST", `/v1/key/decrypt/${keyName}`, { client, body: { ciphertext: dek.json.ciphertext, context: MINIO_CONTEXT } });
  assert.equal(opened.status, 200, opened.text);
  assert.equal(opened.json.plaintext, dek.json.plaintext);

  // The context is bound: another object's context (or none) does not open it.
  const wrong = await kes(target, "POST", `/v1/key/decrypt/${keyName}`, { client, body: { ciphertext: dek.json.ciphertext, context: b64('{"bucket":"bucket/other"}') } });
  assert.equal(wrong.status, 400);
  assert.deepEqual(wrong.json, { message: "decryption failed: ciphertext is not authentic" });
}
