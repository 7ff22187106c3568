/**
 * A KES API client that behaves as kes-go (the client MinIO uses) does,
 * written from KES's published API documentation and kes-go's public
 * behaviour, apart from this server's code:
 * - paths are joined like Go's path.Join(api, url.PathEscape(arg)), so an
 *   empty argument yields no trailing slash (`GET /v1/key/list`);
 * - create/import/generate/encrypt/decrypt POST, hmac PUT (without a
 *   Content-Type), describe/list/status/api/version GET, delete DELETE;
 * - []byte fields are standard base64 in JSON; an empty context is omitted;
 * - an error is any status >= 400: with a Content-Type starting with
 *   application/json its body is {"message"}, otherwise the body is the message;
 * - replies are decoded into fixed field names and types, so a reply with
 *   another shape fails here as it would fail to mean anything to kes-go.
 * Every reply is also checked the way Go's http client sees it: an exact
 * Content-Length, no chunked encoding.
 */
import assert from "node:assert/strict";
import { httpsRequest, type KesClientId, type KesTarget } from "./kes.ts";

/** A KES error as kes-go reports it: the status and the message. */
export class KesGoError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A reply as Go's http client would see it. */
interface GoReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Go's url.PathEscape for the characters tests use: escapes everything but unreserved and sub-delims allowed in a segment. */
function pathEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => "%" + ch.charCodeAt(0).toString(16).toUpperCase()).replace(/%24/g, "$").replace(/%26/g, "&")
    .replace(/%2B/g, "+").replace(/%2C/g, ",").replace(/%3B/g, ";").replace(/%3D/g, "=").replace(/%3A/g, ":").replace(/%40/g, "@");
}

/** Go's path.Join(api, url.PathEscape(arg)): empty elements vanish, no trailing slash. */
export function joinPath(api: string, ...args: string[]): string {
  const parts = [api, ...args.map(pathEscape)].join("/").split("/").filter((p) => p !== "");
  return "/" + parts.join("/");
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: unknown, field: string): Uint8Array => {
  assert.equal(typeof s, "string", `${field}: a base64 string`);
  assert.match(s as string, /^[A-Za-z0-9+/]*={0,2}$/, `${field}: standard base64`);
  return new Uint8Array(Buffer.from(s as string, "base64"));
};

/** The type names kes-go's Go structs decode each field into. */
type FieldType = "string" | "bool" | "int" | "time" | "bytes" | "strings" | "rules";

/** Asserts a JSON object has exactly these fields with these types (the Go struct kes-go decodes into). */
export function assertShape(obj: unknown, shape: Record<string, FieldType>, what: string): Record<string, unknown> {
  assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `${what}: a JSON object`);
  const o = obj as Record<string, unknown>;
  assert.deepEqual(Object.keys(o).sort(), Object.keys(shape).sort(), `${what}: field names`);
  for (const [k, t] of Object.entries(shape)) {
    const val = o[k];
    const where = `${what}.${k}`;
    switch (t) {
      case "string": assert.equal(typeof val, "string", where); break;
      case "bool": assert.equal(typeof val, "boolean", where); break;
      case "int": assert.ok(Number.isInteger(val), `${where}: an integer`); break;
      case "time": assert.ok(typeof val === "string" && !Number.isNaN(Date.parse(val)) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(val), `${where}: RFC 3339 time`); break;
      case "bytes": unb64(val, where); break;
      case "strings": assert.ok(Array.isArray(val) && val.every((x) => typeof x === "string"), `${where}: []string`); break;
      case "rules":
        assert.ok(val && typeof val === "object" && !Array.isArray(val), `${where}: map[string]Rule`);
        for (const [p, r] of Object.entries(val as object)) assert.deepEqual(r, {}, `${where}[${p}]: Rule is an empty object`);
        break;
    }
  }
  return o;
}

/** A KES client for one server and one identity. */
export class KesGoClient {
  constructor(private readonly target: KesTarget, private readonly id: KesClientId | null) {}

  /** One request (a Buffer body is sent as it is); checks the framing every reply must have and turns errors into KesGoError. */
  async send(method: string, path: string, body?: unknown, contentType = body === undefined ? undefined : "application/json"): Promise<GoReply> {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const raw = await httpsRequest(this.target, this.id, method, path, payload, contentType ? { "content-type": contentType } : {});
    const reply = { status: raw.status, contentType: String(raw.headers["content-type"] ?? ""), body: raw.body, headers: raw.headers };
    assert.equal(reply.headers["transfer-encoding"], undefined, `${method} ${path}: not chunked`);
    assert.equal(reply.headers["content-length"], String(reply.body.length), `${method} ${path}: exact Content-Length`);
    if (reply.status >= 400) {
      if (reply.contentType.startsWith("application/json")) {
        const e = assertShape(JSON.parse(reply.body.toString()), { message: "string" }, `${method} ${path} error`);
        throw new KesGoError(reply.status, e.message as string);
      }
      throw new KesGoError(reply.status, reply.body.toString());
    }
    return reply;
  }

  /** A 200 reply's JSON body, which must be application/json. */
  async json(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const r = await this.send(method, path, body, contentType);
    assert.equal(r.status, 200, `${method} ${path}`);
    assert.match(r.contentType, /^application\/json/, `${method} ${path}: Content-Type`);
    return JSON.parse(r.body.toString());
  }

  async version(): Promise<string> {
    const o = (await this.json("GET", "/version")) as Record<string, unknown>;
    assert.equal(typeof o.version, "string");
    return o.version as string;
  }

  async isReady(): Promise<boolean> {
    return (await this.send("GET", "/v1/ready")).status === 200;
  }

  status() {
    return this.json("GET", "/v1/status").then((o) => assertShape(o, {
      version: "string", os: "string", arch: "string", uptime: "int", num_cpu: "int", num_cpu_used: "int",
      mem_heap_used: "int", mem_stack_used: "int", keystore_latency: "int", keystore_unreachable: "bool",
    }, "status"));
  }

  async apis(): Promise<Array<{ method: string; path: string; max_body: number; timeout: number }>> {
    const list = await this.json("GET", "/v1/api");
    assert.ok(Array.isArray(list));
    return list.map((o, i) => assertShape(o, { method: "string", path: "string", max_body: "int", timeout: "int" }, `api[${i}]`)) as never;
  }

  async metrics(): Promise<string> {
    const r = await this.send("GET", "/v1/metrics");
    assert.match(r.contentType, /^text\/plain/);
    return r.body.toString();
  }

  async createKey(name: string): Promise<void> {
    await this.send("POST", joinPath("/v1/key/create", name));
  }

  async importKey(name: string, key: Uint8Array, cipher: "AES256" | "ChaCha20"): Promise<void> {
    await this.send("POST", joinPath("/v1/key/import", name), { key: b64(key), cipher });
  }

  async describeKey(name: string) {
    const o = await this.json("GET", joinPath("/v1/key/describe", name));
    return assertShape(o, { name: "string", algorithm: "string", created_at: "time", created_by: "string" }, "describe");
  }

  async deleteKey(name: string): Promise<void> {
    await this.send("DELETE", joinPath("/v1/key/delete", name));
  }

  async generateKey(name: string, context?: Uint8Array): Promise<{ plaintext: Uint8Array; ciphertext: Uint8Array }> {
    const o = assertShape(await this.json("POST", joinPath("/v1/key/generate", name), context?.length ? { context: b64(context) } : {}), { plaintext: "bytes", ciphertext: "bytes" }, "generate");
    return { plaintext: unb64(o.plaintext, "plaintext"), ciphertext: unb64(o.ciphertext, "ciphertext") };
  }

  async encrypt(name: string, plaintext: Uint8Array, context?: Uint8Array): Promise<Uint8Array> {
    const o = assertShape(await this.json("POST", joinPath("/v1/key/encrypt", name), { plaintext: b64(plaintext), ...(context?.length ? { context: b64(context) } : {}) }), { ciphertext: "bytes" }, "encrypt");
    return unb64(o.ciphertext, "ciphertext");
  }

  async decrypt(name: string, ciphertext: Uint8Array, context?: Uint8Array): Promise<Uint8Array> {
    const o = assertShape(await this.json("POST", joinPath("/v1/key/decrypt", name), { ciphertext: b64(ciphertext), ...(context?.length ? { context: b64(context) } : {}) }), { plaintext: "bytes" }, "decrypt");
    return unb64(o.plaintext, "plaintext");
  }

  /** kes-go sends HMAC as PUT with no Content-Type. */
  async hmac(name: string, message: Uint8Array): Promise<Uint8Array> {
    const r = await this.send("PUT", joinPath("/v1/key/hmac", name), { message: b64(message) }, "");
    assert.equal(r.status, 200);
    const o = assertShape(JSON.parse(r.body.toString()), { hmac: "bytes" }, "hmac");
    return unb64(o.hmac, "hmac");
  }

  async listKeys(prefix: string): Promise<{ names: string[]; continueAt: string }> {
    const o = assertShape(await this.json("GET", joinPath("/v1/key/list", prefix)), { names: "strings", continue_at: "string" }, "list");
    return { names: o.names as string[], continueAt: o.continue_at as string };
  }

  async describeSelf() {
    return assertShape(await this.json("GET", "/v1/identity/self/describe"), {
      identity: "string", admin: "bool", policy: "string", allow: "rules", deny: "rules", created_at: "time", created_by: "string",
    }, "self");
  }

  async describePolicy(name: string) {
    return assertShape(await this.json("GET", joinPath("/v1/policy/describe", name)), { created_at: "time", created_by: "string" }, "policy describe");
  }

  async getPolicy(name: string) {
    return assertShape(await this.json("GET", joinPath("/v1/policy/read", name)), { allow: "rules", deny: "rules", created_at: "time", created_by: "string" }, "policy read");
  }

  async listPolicies(prefix: string): Promise<{ names: string[]; continueAt: string }> {
    const o = assertShape(await this.json("GET", joinPath("/v1/policy/list", prefix)), { names: "strings", continue_at: "string" }, "policy list");
    return { names: o.names as string[], continueAt: o.continue_at as string };
  }
}

/** Awaits p and asserts it failed as kes-go reports a KES error: this status and message. */
export async function expectKesError(p: Promise<unknown>, status: number, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KesGoError, `expected KES error ${status}, got ${(err as Error)?.message}`);
    assert.equal(err.status, status, `status of '${err.message}'`);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  }, `expected KES error ${status}, got success`);
}
