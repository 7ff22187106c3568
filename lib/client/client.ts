import { clientCredentials, parseApiKey } from "../identity/apikey.ts";
import { encodeFrames, parseFrames } from "../wire/frames.ts";
import { decode, encode } from "../wire/proto.ts";
import { type CommandName, wireCommand } from "../wire/commands.ts";
import { ruleSets } from "../wire/rules.ts";
import { createTransport, type Transport, TransportError } from "../net/transport.ts";

/** How to reach a kms cluster. */
export interface ClientOptions {
  /** host:port or https://host:port, one per node. */
  readonly servers: readonly string[];
  readonly apiKey: string;
  readonly ca?: string;
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
}

/** An error the server answered with: its status and message. */
export class KmsClientError extends Error {
  override readonly name = "KmsClientError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One command of a pipelined request. */
export interface Call {
  readonly id: number;
  readonly request: string;
  readonly response?: string;
  readonly message: Record<string, unknown>;
}

type Message = Record<string, unknown>;

/** Normalises `host:port` to `https://host:port`. */
export function serverUrl(server: string): string {
  const s = server.trim();
  return /^https?:\/\//.test(s) ? s : `https://${s}`;
}

/**
 * A client of the native protocol. It picks servers at random, skips ones that
 * failed recently, and retries transport errors (never HTTP errors) on others.
 */
export class KmsClient {
  readonly identity: string;
  readonly #servers: string[];
  readonly #transport: Transport;
  readonly #failedAt = new Map<string, number>();

  constructor(opts: ClientOptions) {
    if (opts.servers.length === 0) throw new Error("no server: set MINIO_KMS_SERVER to host:port[,host:port…]");
    const key = parseApiKey(opts.apiKey);
    this.identity = key.identity;
    this.#servers = opts.servers.map(serverUrl);
    this.#transport = createTransport({ ...clientCredentials(key), ca: opts.ca, insecure: opts.insecure, timeoutMs: opts.timeoutMs });
  }

  /** The servers, as https:// URLs. */
  get servers(): readonly string[] {
    return this.#servers;
  }

  /** Sends one HTTP request, failing over between servers on transport errors. */
  async request(method: string, path: string, body?: Uint8Array, headers?: Record<string, string>) {
    // Random order spreads load; servers that failed in the last 30 s go last.
    const recent = (s: string) => (this.#failedAt.get(s) ?? 0) > Date.now() - 30_000;
    const shuffled = [...this.#servers].sort(() => Math.random() - 0.5);
    const order = [...shuffled.filter((s) => !recent(s)), ...shuffled.filter(recent)];
    let last: unknown;
    for (const server of order) {
      try {
        return await this.#transport.request(server, method, path, body, headers);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        this.#failedAt.set(server, Date.now());
        last = err;
      }
    }
    throw last;
  }

  /** Sends calls as one pipelined request to enclave (or "" for cluster-wide commands); one reply per call. */
  async batch(enclave: string, calls: readonly Call[]): Promise<Message[]> {
    const body = encodeFrames(calls.map((c) => ({ id: c.id, payload: encode(c.request, c.message) })));
    const path = enclave ? `/v1/kms/${encodeURIComponent(enclave)}` : "/v1/kms";
    const reply = await this.request("POST", path, body, { "content-type": "application/octet-stream", accept: "application/octet-stream" });
    if (reply.status !== 200) throw errorOf(reply.status, reply.contentType, reply.body);
    const frames = parseFrames(reply.body, calls.length);
    if (frames.length !== calls.length) throw new Error(`server replied with ${frames.length} frames to ${calls.length} calls`);
    return frames.map((f, i) => (calls[i].response ? decode(calls[i].response!, f.payload) : {}));
  }

  /** Sends one call. */
  async call(enclave: string, c: Call): Promise<Message> {
    return (await this.batch(enclave, [c]))[0];
  }

  /** A JSON request: the parsed reply, or the server's error as a KmsClientError. */
  async json(method: string, path: string): Promise<Record<string, unknown>> {
    const r = await this.request(method, path, undefined, { accept: "application/json" });
    if (r.status !== 200) throw errorOf(r.status, r.contentType, r.body);
    return JSON.parse(new TextDecoder().decode(r.body));
  }

  /** A text request (e.g. the Prometheus metrics), or the server's error as a KmsClientError. */
  async text(path: string): Promise<string> {
    const r = await this.request("GET", path, undefined, { accept: "text/plain" });
    if (r.status !== 200) throw errorOf(r.status, r.contentType, r.body);
    return new TextDecoder().decode(r.body);
  }

  /** One page of a *:LIST command: names from `continueAt` on that start with `prefix`, at most `limit` (0: the server's page). */
  #list(enclave: string, command: CommandName, prefix: string, continueAt: string, limit: number): Promise<Message> {
    return this.call(enclave, { ...wireCommand(command), message: { prefix, continue_at: continueAt, limit } });
  }

  /** GET /version. */
  async version(): Promise<Message> {
    const r = await this.request("GET", "/version", undefined, { accept: "application/json" });
    if (r.status !== 200) throw errorOf(r.status, r.contentType, r.body);
    return JSON.parse(new TextDecoder().decode(r.body));
  }

  addNode = (host: string) => this.call("", { ...wireCommand("CLUSTER:ADDNODE"), message: { host } });
  removeNode = (host: string) => this.call("", { ...wireCommand("CLUSTER:REMOVENODE"), message: { host, delete_cluster_on_host: false } });
  editCluster = (host: string, remove: number[]) => this.call("", { ...wireCommand("CLUSTER:EDIT"), message: { host, remove } });
  /** CLUSTER:ADMINKEY (a kms extension): disable the admin API key, or enable it with an HSM proof made at `at`. */
  setAdminKey = (enabled: boolean, at: number, proof: Uint8Array) =>
    this.call("", { ...wireCommand("CLUSTER:ADMINKEY"), message: { enabled, at, proof } });
  addHsm = (fingerprint: string, publicKey: Uint8Array, joinCa: Uint8Array, joinRpc: Uint8Array) =>
    this.call("", { ...wireCommand("CLUSTER:ADDHSM"), message: { fingerprint, public_key: publicKey, join_ca: joinCa, join_rpc: joinRpc } });
  removeHsm = (fingerprint: string) => this.call("", { ...wireCommand("CLUSTER:REMOVEHSM"), message: { fingerprint } });
  listHsm = () => this.call("", { ...wireCommand("CLUSTER:LISTHSM"), message: {} });
  listDeleted = () => this.call("", { ...wireCommand("CLUSTER:LISTDELETED"), message: {} });
  undeleteEnclave = (name: string) => this.call("", { ...wireCommand("ENCLAVE:UNDELETE"), message: { name } });
  undeleteKey = (enclave: string, name: string) => this.call(enclave, { ...wireCommand("KEY:UNDELETE"), message: { name } });
  clusterStatus = () => this.call("", { ...wireCommand("CLUSTER:STATUS"), message: {} });
  createEnclave = (name: string) => this.call("", { ...wireCommand("ENCLAVE:CREATE"), message: { name } });
  deleteEnclave = (name: string) => this.call("", { ...wireCommand("ENCLAVE:DELETE"), message: { name } });
  enclaveStatus = (name: string) =>
    this.call("", { ...wireCommand("ENCLAVE:STATUS"), message: { name } });
  listEnclaves = (prefix = "", continueAt = "", limit = 0) =>
    this.#list("", "ENCLAVE:LIST", prefix, continueAt, limit);

  createKey = (enclave: string, name: string, type = "", addVersion = false) =>
    this.call(enclave, { ...wireCommand("KEY:CREATE"), message: { name, type, add_version: addVersion } });
  deleteKey = (enclave: string, name: string, version = 0, allVersions = false) =>
    this.call(enclave, { ...wireCommand("KEY:DELETE"), message: { name, version, all_versions: allVersions } });
  importKey = (enclave: string, name: string, key: Uint8Array, type = "") =>
    this.call(enclave, { ...wireCommand("KEY:IMPORT"), message: { name, type, key } });
  keyStatus = (enclave: string, name: string, version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:STATUS"), message: { name, version } });
  encrypt = (enclave: string, name: string, plaintext: Uint8Array, associatedData: Uint8Array = new Uint8Array(), version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:ENCRYPT"), message: { name, version, plaintext, associated_data: associatedData } });
  decrypt = (enclave: string, name: string, ciphertext: Uint8Array, associatedData: Uint8Array = new Uint8Array(), version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:DECRYPT"), message: { name, version, ciphertext, associated_data: associatedData } });
  generate = (enclave: string, name: string, associatedData: Uint8Array = new Uint8Array(), length = 0, version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:GENERATE"), message: { name, version, associated_data: associatedData, length } });
  listKeys = (enclave: string, prefix = "", continueAt = "", limit = 0) =>
    this.#list(enclave, "KEY:LIST", prefix, continueAt, limit);
  derive = (enclave: string, name: string, context: Uint8Array, length = 0, version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:DERIVE"), message: { name, version, context, length } });
  mac = (enclave: string, name: string, message: Uint8Array, version = 0) =>
    this.call(enclave, { ...wireCommand("KEY:MAC"), message: { name, version, message } });
  /** KEY:REWRAP (a kms extension) as one call of a pipelined request: see `batch`. */
  static rewrapCall = (name: string, ciphertext: Uint8Array, associatedData: Uint8Array = new Uint8Array(), newName = ""): Call =>
    ({ ...wireCommand("KEY:REWRAP"), message: { name, ciphertext, associated_data: associatedData, new_name: newName } });
  rewrap = (enclave: string, name: string, ciphertext: Uint8Array, associatedData?: Uint8Array, newName = "") =>
    this.call(enclave, KmsClient.rewrapCall(name, ciphertext, associatedData, newName));

  /** ACCESSKEY:* (kms extensions): AWS access keys of identities. */
  createAccessKey = (enclave: string, identity: string) =>
    this.call(enclave, { ...wireCommand("ACCESSKEY:CREATE"), message: { identity } });
  deleteAccessKey = (enclave: string, accessKeyId: string) =>
    this.call(enclave, { ...wireCommand("ACCESSKEY:DELETE"), message: { access_key_id: accessKeyId } });
  listAccessKeys = (enclave: string, prefix = "", continueAt = "", limit = 0) => this.#list(enclave, "ACCESSKEY:LIST", prefix, continueAt, limit);

  createIdentity = (enclave: string, identity: string, privilege = "", serviceAccount = false, tags: Record<string, string> = {}) =>
    this.call(enclave, { ...wireCommand("IDENTITY:CREATE"), message: { identity, privilege, service_account: serviceAccount, tags } });
  deleteIdentity = (enclave: string, identity: string) =>
    this.call(enclave, { ...wireCommand("IDENTITY:DELETE"), message: { identity } });
  identityStatus = (enclave: string, identity: string) =>
    this.call(enclave, { ...wireCommand("IDENTITY:STATUS"), message: { identity } });
  listIdentities = (enclave: string, prefix = "", continueAt = "", limit = 0) =>
    this.#list(enclave, "IDENTITY:LIST", prefix, continueAt, limit);

  /** POLICY:CREATE; rules map a command name to its name patterns. */
  createPolicy = (enclave: string, name: string, allow: Record<string, string[]>, deny: Record<string, string[]> = {}) =>
    this.call(enclave, { ...wireCommand("POLICY:CREATE"), message: { name, allow: ruleSets(allow), deny: ruleSets(deny) } });
  deletePolicy = (enclave: string, name: string) => this.call(enclave, { ...wireCommand("POLICY:DELETE"), message: { name } });
  assignPolicy = (enclave: string, policy: string, identity: string) =>
    this.call(enclave, { ...wireCommand("POLICY:ASSIGN"), message: { identity, policy } });
  getPolicy = (enclave: string, name: string) =>
    this.call(enclave, { ...wireCommand("POLICY:GET"), message: { name } });
  policyStatus = (enclave: string, name: string) =>
    this.call(enclave, { ...wireCommand("POLICY:STATUS"), message: { name } });
  listPolicies = (enclave: string, prefix = "", continueAt = "", limit = 0) =>
    this.#list(enclave, "POLICY:LIST", prefix, continueAt, limit);

  /** Closes idle connections. */
  close(): void {
    this.#transport.close();
  }
}

/** The server's error from a non-200 reply (protobuf or JSON). */
export function errorOf(status: number, contentType: string, body: Uint8Array): KmsClientError {
  let message = `HTTP ${status}`;
  try {
    if (contentType.includes("application/json")) message = JSON.parse(new TextDecoder().decode(body)).message ?? message;
    else if (body.length) message = String(decode("ErrResponse", body).message || message);
  } catch {
    // keep the status line: the body was not an error message
  }
  return new KmsClientError(status, message);
}
