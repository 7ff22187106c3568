/**
 * Helpers for the end-to-end tests: raw HTTPS requests to a running server,
 * native-protocol frames, waiting on conditions with a deadline, stopping a
 * server with a deadline, KES-format ciphertexts built independently of lib/,
 * and on-disk snapshots and secret scans of a data directory.
 */
import assert from "node:assert/strict";
import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { encodeFrames, parseFrames } from "../../lib/wire/frames.ts";
import { decode, encode } from "../../lib/wire/proto.ts";
import { KmsClientError } from "../../lib/client/client.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import type { KmsServer } from "./kms.ts";

// ---------------------------------------------------------------- raw HTTP

/** A reply read to its end. */
export interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Options of rawRequest. */
export interface RawOptions {
  readonly method?: string;
  readonly path: string;
  readonly body?: Uint8Array;
  /** API key whose client certificate to present; null = no certificate. Default: the server's admin key. */
  readonly apiKey?: string | null;
  /** PEM client certificate and key to present instead of an API key's. */
  readonly credentials?: { cert: string; key: string };
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
  /** A keep-alive agent to send through (default: a fresh connection, closed afterwards). */
  readonly agent?: https.Agent;
}

/**
 * One HTTPS request on a fresh connection (no agent, so nothing stays open),
 * trusting only the server's self-signed certificate.
 */
export function rawRequest(server: Pick<KmsServer, "port" | "ca" | "apiKey">, opts: RawOptions): Promise<RawReply> {
  const apiKey = opts.apiKey === undefined ? server.apiKey : opts.apiKey;
  const creds = opts.credentials ?? (apiKey === null ? undefined : clientCredentials(parseApiKey(apiKey)));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body) headers["content-length"] ??= String(opts.body.length);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1",
      port: server.port,
      method: opts.method ?? (opts.body ? "POST" : "GET"),
      path: opts.path,
      agent: opts.agent ?? false,
      ca: server.ca,
      ...(creds ? { cert: creds.cert, key: creds.key } : {}),
      headers,
      timeout: opts.timeoutMs ?? 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${opts.path}: no reply within the deadline`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** A native command as protobuf message name + fields. */
export interface RawCall {
  readonly id: number;
  readonly request: string;
  readonly message: Record<string, unknown>;
}

/** Encodes calls into one request body of frames. */
export function framesOf(calls: readonly RawCall[]): Uint8Array {
  return encodeFrames(calls.map((c) => ({ id: c.id, payload: encode(c.request, c.message) })));
}

/** POSTs a body to /v1/kms[/enclave] as the admin (or another key) with the protocol's headers. */
export function postNative(server: Pick<KmsServer, "port" | "ca" | "apiKey">, enclave: string, body: Uint8Array, opts: Partial<RawOptions> = {}): Promise<RawReply> {
  return rawRequest(server, {
    ...opts,
    method: "POST",
    path: opts.path ?? (enclave ? `/v1/kms/${enclave}` : "/v1/kms"),
    body,
    headers: { "content-type": "application/octet-stream", accept: "application/*", ...opts.headers },
  });
}

/** Splits a 200 reply body into frames. */
export function replyFrames(body: Uint8Array) {
  return parseFrames(new Uint8Array(body), 1_000_000);
}

/** Asserts that a reply is a protocol error: status, protobuf ErrResponse body, explicit content-length. Returns the message. */
export function assertErrReply(reply: RawReply, status: number, message?: string | RegExp): string {
  const text = errMessage(reply);
  assert.equal(reply.status, status, `expected HTTP ${status}, got ${reply.status} (${text})`);
  assert.equal(reply.headers["content-type"], "application/octet-stream", "error replies are protobuf");
  assert.equal(reply.headers["content-length"], String(reply.body.length), "error replies carry an exact content-length");
  assert.ok(text.length > 0, "the ErrResponse has a message");
  if (typeof message === "string") assert.equal(text, message);
  else if (message) assert.match(text, message);
  return text;
}

/** The message of a protobuf ErrResponse body, or "" when it is not one. */
export function errMessage(reply: RawReply): string {
  try {
    return String(decode("ErrResponse", new Uint8Array(reply.body)).message ?? "");
  } catch {
    return "";
  }
}

/** Awaits p and asserts it failed with exactly this status and message (the pair MinIO's client compares). */
export async function expectKmsError(p: Promise<unknown>, status: number, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KmsClientError, `expected a server error, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    if (typeof message === "string") assert.deepEqual({ status: err.status, message: err.message }, { status, message });
    else {
      assert.equal(err.status, status, `status of "${err.message}"`);
      assert.match(err.message, message);
    }
    return true;
  }, `expected the server to answer ${status} ${message}, but the call succeeded`);
}

/** Sends one call on a fresh connection and decodes its reply; a non-200 throws KmsClientError like KmsClient does. */
export async function rawCall(server: Pick<KmsServer, "port" | "ca" | "apiKey">, enclave: string, call: RawCall & { response?: string }): Promise<Record<string, unknown>> {
  const reply = await postNative(server, enclave, framesOf([call]));
  if (reply.status !== 200) throw new KmsClientError(reply.status, errMessage(reply) || `HTTP ${reply.status}`);
  const [frame] = replyFrames(reply.body);
  return call.response ? decode(call.response, frame.payload) : {};
}

/**
 * The KmsClient calls the tests need, each on its own connection that is closed
 * afterwards: nothing stays open to hold up a graceful shutdown.
 */
export function oneShotClient(server: Pick<KmsServer, "port" | "ca" | "apiKey">) {
  const call = (enclave: string, c: RawCall & { response?: string }) => rawCall(server, enclave, c);
  return {
    clusterStatus: () => call("", { id: 3, request: "ClusterStatusRequest", response: "ClusterStatusResponse", message: {} }),
    createEnclave: (name: string) => call("", { id: 101, request: "CreateEnclaveRequest", message: { name } }),
    deleteEnclave: (name: string) => call("", { id: 102, request: "DeleteEnclaveRequest", message: { name } }),
    enclaveStatus: (name: string) => call("", { id: 103, request: "EnclaveStatusRequest", response: "EnclaveStatusResponse", message: { name } }),
    listEnclaves: (prefix = "") => call("", { id: 104, request: "ListRequest", response: "ListEnclavesResponse", message: { prefix } }),
    createKey: (enclave: string, name: string, type = "", addVersion = false) =>
      call(enclave, { id: 201, request: "CreateKeyRequest", message: { name, type, add_version: addVersion } }),
    deleteKey: (enclave: string, name: string, version = 0, allVersions = false) =>
      call(enclave, { id: 202, request: "DeleteKeyRequest", message: { name, version, all_versions: allVersions } }),
    importKey: (enclave: string, name: string, key: Uint8Array, type = "") =>
      call(enclave, { id: 203, request: "ImportKeyRequest", message: { name, type, key } }),
    keyStatus: (enclave: string, name: string, version = 0) =>
      call(enclave, { id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name, version } }),
    encrypt: (enclave: string, name: string, plaintext: Uint8Array, associatedData = new Uint8Array(), version = 0) =>
      call(enclave, { id: 205, request: "EncryptRequest", response: "EncryptResponse", message: { name, version, plaintext, associated_data: associatedData } }),
    decrypt: (enclave: string, name: string, ciphertext: Uint8Array, associatedData = new Uint8Array(), version = 0) =>
      call(enclave, { id: 206, request: "DecryptRequest", response: "DecryptResponse", message: { name, version, ciphertext, associated_data: associatedData } }),
    generate: (enclave: string, name: string, associatedData = new Uint8Array(), length = 0, version = 0) =>
      call(enclave, { id: 207, request: "GenerateKeyRequest", response: "GenerateKeyResponse", message: { name, version, associated_data: associatedData, length } }),
    listKeys: (enclave: string, prefix = "") => call(enclave, { id: 208, request: "ListRequest", response: "ListKeysResponse", message: { prefix } }),
    mac: (enclave: string, name: string, message: Uint8Array, version = 0) =>
      call(enclave, { id: 210, request: "MACRequest", response: "MACResponse", message: { name, version, message } }),
  };
}

// ---------------------------------------------------------------- waiting

/** Polls cond until it returns true (or a value), failing after timeoutMs with `what`. */
export async function waitUntil<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sends a signal and waits up to timeoutMs for the process to exit. Resolves
 * to its exit code, or "timeout" after SIGKILLing a process that did not stop
 * (so a hung shutdown fails a test fast instead of hanging the suite).
 */
export async function stopWithin(server: KmsServer, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  const result = await Promise.race([server.stop(signal), timeout]);
  clearTimeout(timer);
  if (result === "timeout") await server.stop("SIGKILL");
  return result;
}

/** Waits up to timeoutMs for the process to exit by itself (no signal sent); SIGKILLs it and resolves "timeout" otherwise. */
export async function waitForExit(server: KmsServer, timeoutMs = 10_000): Promise<{ code: number | null; signal: string | null } | "timeout"> {
  const child = server.process;
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (result === "timeout") await server.stop("SIGKILL");
  return result;
}

/** Resolves once nothing accepts TCP connections on 127.0.0.1:port any more (the listener is closed). */
export async function listenerClosed(port: number, timeoutMs = 10_000): Promise<void> {
  const refused = () =>
    new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => {
        c.destroy();
        resolve(false);
      });
      c.on("error", () => resolve(true));
    });
  await waitUntil(refused, `the listener on port ${port} to close`, timeoutMs);
}

// ---------------------------------------------------------------- KES format

/** HChaCha20 (RFC draft-irtf-cfrg-xchacha §2.2), written here independently of lib/. */
export function hchacha20(key: Uint8Array, input16: Uint8Array): Uint8Array {
  const s = new Uint32Array(16);
  const kv = new DataView(key.buffer, key.byteOffset, 32);
  const nv = new DataView(input16.buffer, input16.byteOffset, 16);
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
  for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(4 * i, true);
  for (let i = 0; i < 4; i++) s[12 + i] = nv.getUint32(4 * i, true);
  const rotl = (v: number, c: number) => (v << c) | (v >>> (32 - c));
  const qr = (a: number, b: number, c: number, d: number) => {
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 16);
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 12);
    s[a] += s[b]; s[d] = rotl(s[d] ^ s[a], 8);
    s[c] += s[d]; s[b] = rotl(s[b] ^ s[c], 7);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => ov.setUint32(4 * i, s[w], true));
  return out;
}

/**
 * A ciphertext in KES's format: sealed‖tag ‖ iv[16] ‖ nonce[12], the message
 * key being HMAC-SHA256(master, iv) (AES-256-GCM) or HChaCha20(master, iv)
 * (ChaCha20-Poly1305), the AAD exactly the caller's associated data.
 */
export function kesEncrypt(type: "AES256" | "ChaCha20", master: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const iv = randomBytes(16);
  const nonce = randomBytes(12);
  let sealed: Uint8Array;
  if (type === "AES256") {
    const key = createHmac("sha256", master).update(iv).digest();
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.setAAD(associatedData);
    sealed = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  } else {
    sealed = chacha20poly1305(hchacha20(master, iv), nonce, associatedData).encrypt(plaintext);
  }
  return new Uint8Array(Buffer.concat([sealed, iv, nonce]));
}

// ---------------------------------------------------------------- data directory

/** One entry of a directory snapshot. */
export interface FileSnapshot {
  readonly type: "file" | "dir" | "other";
  readonly mode: number;
  readonly size: number;
  readonly sha256: string;
}

/** Every path under dir (itself included) with its type, mode, size and content hash. */
export function snapshotDir(dir: string): Map<string, FileSnapshot> {
  const out = new Map<string, FileSnapshot>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = path.relative(dir, p) || ".";
    if (st.isDirectory()) {
      out.set(rel, { type: "dir", mode: st.mode & 0o7777, size: 0, sha256: "" });
      for (const name of readdirSync(p).sort()) walk(path.join(p, name));
    } else if (st.isFile()) {
      out.set(rel, { type: "file", mode: st.mode & 0o7777, size: st.size, sha256: createHash("sha256").update(readFileSync(p)).digest("hex") });
    } else {
      out.set(rel, { type: "other", mode: st.mode & 0o7777, size: st.size, sha256: "" });
    }
  };
  walk(dir);
  return out;
}

/** Every regular file under dir, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
    else if (st.isFile()) out.push(p);
  };
  walk(dir);
  return out;
}

/** A secret to look for, with a label safe to print. */
export interface Secret {
  readonly label: string;
  readonly bytes: Uint8Array;
}

/**
 * The byte patterns under which a secret could appear on disk: raw, hex
 * (lower/upper), and standard and URL-safe base64 at each of the three
 * alignments it could take inside a longer base64 text (the whole-symbol
 * interior only, so the pattern matches wherever the secret was embedded).
 */
export function encodingsOf(secret: Secret): Array<{ label: string; bytes: Buffer }> {
  const raw = Buffer.from(secret.bytes);
  const out = [
    { label: `${secret.label} (raw)`, bytes: raw },
    { label: `${secret.label} (hex)`, bytes: Buffer.from(raw.toString("hex")) },
    { label: `${secret.label} (HEX)`, bytes: Buffer.from(raw.toString("hex").toUpperCase()) },
  ];
  for (let skip = 0; skip < 3; skip++) {
    const part = raw.subarray(skip);
    const whole = Math.floor(part.length / 3) * 4; // symbols that do not depend on what follows
    if (whole < 8) continue;
    for (const enc of ["base64", "base64url"] as const) {
      out.push({ label: `${secret.label} (${enc}, offset ${skip})`, bytes: Buffer.from(part.toString(enc).slice(0, whole)) });
    }
  }
  return out;
}

/** Labels of every secret found in any file under dir, with file and offset (never the secret itself). */
export function findSecrets(dir: string, secrets: readonly Secret[]): string[] {
  const found: string[] = [];
  const patterns = secrets.flatMap(encodingsOf);
  for (const file of filesUnder(dir)) {
    const content = readFileSync(file);
    for (const p of patterns) {
      const at = content.indexOf(p.bytes);
      if (at >= 0) found.push(`${p.label} in ${path.relative(dir, file)} at offset ${at}`);
    }
  }
  return found;
}

// ---------------------------------------------------------------- server health

/** A server's output with API keys and HSM keys blanked, safe to put in an assertion message. */
export function redactedOutput(server: KmsServer): string {
  return redact(server.output());
}

/** Asserts the server process still runs and never logged an internal error. */
export function assertServerHealthy(server: KmsServer): void {
  const out = redactedOutput(server);
  assert.ok(server.process.exitCode === null && server.process.signalCode === null, `the server exited unexpectedly:\n${out}`);
  assert.doesNotMatch(out, /internal error|internal server error|unhandled|uncaught/i, "the server logged an internal error");
}

/** Text with API keys and HSM keys blanked out, for assertion messages. */
export function redact(text: string): string {
  return text
    .replace(/\bk[12]:[A-Za-z0-9_-]+/g, "k?:<redacted>")
    .replace(/\bkes:v1:[A-Za-z0-9+/=]+/g, "kes:v1:<redacted>")
    .replace(/hsm:aes256:[A-Za-z0-9+/=]*/g, "hsm:aes256:<redacted>");
}

/** Asserts a successful CLI run and returns its stdout. */
export function expectOk(r: import("./kms.ts").RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr: ${redact(r.stderr)}`);
  return r.stdout;
}

/** Asserts a successful --json CLI run and returns the parsed output. */
// deno-lint-ignore no-explicit-any
export function expectJson(r: import("./kms.ts").RunResult, what: string): any {
  const out = expectOk(r, what);
  try {
    return JSON.parse(out);
  } catch {
    assert.fail(`${what}: --json output does not parse as JSON: ${redact(out)}`);
  }
}
