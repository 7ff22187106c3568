/**
 * A small reference model of multi-tenant access control, written from the
 * intended semantics and independently of lib/state/policy.ts (which it must
 * not import), plus a driver that sends the same operations to a real server
 * and reduces the replies to comparable outcomes.
 *
 * Intended semantics:
 * - SysAdmin (the HSM admin, or any identity stored with privilege SysAdmin in
 *   any enclave): everything, in every enclave, including CLUSTER:/ENCLAVE:.
 * - Admin: everything inside its own enclave; never CLUSTER:/ENCLAVE:; never
 *   creates, deletes or assigns a policy to an identity above its privilege.
 * - User: what its one policy allows in its own enclave (and, like an Admin,
 *   never acts on an identity above its own privilege).
 * - Policy: a matching deny wins; no matching allow means denied. Listings
 *   need an allow rule for the list command and show a User only the names its
 *   policy allows for that command.
 * - Every denial is 403 "access denied: insufficient permissions", decided
 *   before anything is looked up.
 */
import type { Call, KmsClient } from "../../lib/client/client.ts";
import { KmsClientError } from "../../lib/client/client.ts";

export type Privilege = "SysAdmin" | "Admin" | "User";
export type Rules = Record<string, string[]>;
export interface ModelPolicy {
  readonly allow: Rules;
  readonly deny: Rules;
}
export interface ModelIdentity {
  readonly privilege: Privilege;
  policy: string;
}
export interface ModelEnclave {
  readonly keys: Set<string>;
  readonly policies: Map<string, ModelPolicy>;
  readonly identities: Map<string, ModelIdentity>;
}

/** Every command of the native protocol the model knows, by id. */
export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  3: "CLUSTER:STATUS",
  101: "ENCLAVE:CREATE", 102: "ENCLAVE:DELETE", 103: "ENCLAVE:STATUS", 104: "ENCLAVE:LIST",
  201: "KEY:CREATE", 202: "KEY:DELETE", 203: "KEY:IMPORT", 204: "KEY:STATUS", 205: "KEY:ENCRYPT",
  206: "KEY:DECRYPT", 207: "KEY:GENERATE", 208: "KEY:LIST", 210: "KEY:MAC",
  301: "POLICY:CREATE", 302: "POLICY:DELETE", 303: "POLICY:ASSIGN", 304: "POLICY:GET", 305: "POLICY:STATUS", 306: "POLICY:LIST",
  401: "IDENTITY:CREATE", 402: "IDENTITY:DELETE", 403: "IDENTITY:STATUS", 404: "IDENTITY:LIST",
};
export const ALL_COMMANDS: readonly string[] = Object.values(COMMAND_NAMES);
const ID_OF: Record<string, number> = Object.fromEntries(Object.entries(COMMAND_NAMES).map(([id, n]) => [n, Number(id)]));

export const LIST_COMMANDS: ReadonlySet<string> = new Set(["ENCLAVE:LIST", "KEY:LIST", "POLICY:LIST", "IDENTITY:LIST"]);
const WRITES: ReadonlySet<string> = new Set([
  "ENCLAVE:CREATE", "ENCLAVE:DELETE", "KEY:CREATE", "KEY:DELETE", "KEY:IMPORT",
  "POLICY:CREATE", "POLICY:DELETE", "POLICY:ASSIGN", "IDENTITY:CREATE", "IDENTITY:DELETE",
]);
export const isWrite = (command: string) => WRITES.has(command);
export const isSystem = (command: string) => command.startsWith("CLUSTER:") || command.startsWith("ENCLAVE:");

export const DENIED_MESSAGE = "access denied: insufficient permissions";

/** A reduced reply: 200, or an error status with its message (undefined = any message). */
export interface Outcome {
  readonly status: number;
  readonly message?: string;
}
export const OK: Outcome = { status: 200 };
export const DENIED: Outcome = { status: 403, message: DENIED_MESSAGE };
const notFound = (what: string): Outcome => ({ status: 404, message: `${what} does not exist` });
const exists = (what: string): Outcome => ({ status: 409, message: what === "identity" ? undefined : `${what} already exists` });

/**
 * One operation. `enclave` is the request's enclave ("" for CLUSTER:/ENCLAVE:);
 * `name` is the key, policy, identity or (for ENCLAVE:*) enclave it acts on.
 */
export interface Op {
  readonly command: string;
  readonly enclave: string;
  readonly name?: string;
  /** IDENTITY:CREATE: the privilege to create ("" = User). */
  readonly privilege?: Privilege | "";
  /** POLICY:ASSIGN: the identity that gets policy `name`. */
  readonly identity?: string;
  /** POLICY:CREATE: the rules. */
  readonly policy?: ModelPolicy;
  /** KEY:DECRYPT: a ciphertext. */
  readonly ciphertext?: Uint8Array;
}

/** Whether `pattern` ('*' = any run of characters, everything else literal) matches all of `name`. */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[\\s\\S]*")}$`);
  return re.test(name);
}

const RANK: Record<Privilege, number> = { SysAdmin: 0, Admin: 1, User: 2 };
/** Whether `target` is a higher privilege than `caller`'s. */
const above = (target: Privilege, caller: Privilege) => RANK[target] < RANK[caller];

interface Who {
  readonly privilege: Privilege;
  readonly policy?: ModelPolicy;
}

/** The whole access-relevant state of a server. */
export class AccessModel {
  readonly enclaves = new Map<string, ModelEnclave>();
  constructor(readonly adminIdentity: string) {}

  /** Who `identity` is for a request in `enclave` ("" for system commands); undefined = a stranger there. */
  who(identity: string, enclave: string): Who | undefined {
    if (identity === this.adminIdentity) return { privilege: "SysAdmin" };
    for (const e of this.enclaves.values()) if (e.identities.get(identity)?.privilege === "SysAdmin") return { privilege: "SysAdmin" };
    const e = this.enclaves.get(enclave);
    const rec = e?.identities.get(identity);
    if (!rec) return undefined;
    return { privilege: rec.privilege, policy: rec.policy ? e!.policies.get(rec.policy) : undefined };
  }

  /** Whether a policy lets `command` act on `name`. */
  static policyAllows(policy: ModelPolicy | undefined, command: string, name: string): boolean {
    if (!policy) return false;
    if ((policy.deny[command] ?? []).some((p) => globMatch(p, name))) return false;
    return (policy.allow[command] ?? []).some((p) => globMatch(p, name));
  }

  /** The access decision alone (no existence checks). */
  authorized(identity: string, op: Op): boolean {
    const w = this.who(identity, isSystem(op.command) ? "" : op.enclave);
    if (!w) return false;
    if (w.privilege === "SysAdmin") return true;
    if (isSystem(op.command)) return false;
    if (w.privilege === "Admin") return true;
    if (LIST_COMMANDS.has(op.command)) return (w.policy?.allow[op.command] ?? []).length > 0;
    return AccessModel.policyAllows(w.policy, op.command, op.name ?? "");
  }

  /** The names a listing shows `identity` in `enclave` (all, sorted, for Admins and SysAdmins). */
  list(identity: string, command: string, enclave: string): string[] {
    let names: string[];
    if (command === "ENCLAVE:LIST") names = [...this.enclaves.keys()];
    else {
      const e = this.enclaves.get(enclave);
      if (!e) return [];
      names = command === "KEY:LIST" ? [...e.keys] : command === "POLICY:LIST" ? [...e.policies.keys()] : [...e.identities.keys()];
    }
    const w = this.who(identity, isSystem(command) ? "" : enclave);
    if (w?.privilege === "User") names = names.filter((n) => AccessModel.policyAllows(w.policy, command, n));
    return names.sort();
  }

  /** The outcome `identity` gets for `op`, without changing anything. */
  check(identity: string, op: Op): Outcome {
    return this.#run(identity, op, false);
  }

  /** The outcome `identity` gets for `op`, applying the op's effect when it succeeds. */
  apply(identity: string, op: Op): Outcome {
    return this.#run(identity, op, true);
  }

  /** The outcome of a pipelined batch of reads: any denial → 403; else the first error in order; else 200. */
  checkBatch(identity: string, ops: readonly Op[]): Outcome {
    if (ops.some((op) => !this.authorized(identity, op))) return DENIED;
    for (const op of ops) {
      const o = this.check(identity, op);
      if (o.status !== 200) return o;
    }
    return OK;
  }

  #run(identity: string, op: Op, mutate: boolean): Outcome {
    if (!this.authorized(identity, op)) return DENIED;
    const name = op.name ?? "";
    const cmd = op.command;
    if (isSystem(cmd)) {
      switch (cmd) {
        case "CLUSTER:STATUS":
        case "ENCLAVE:LIST":
          return OK;
        case "ENCLAVE:CREATE":
          if (this.enclaves.has(name)) return exists("enclave");
          if (mutate) this.enclaves.set(name, { keys: new Set(), policies: new Map(), identities: new Map() });
          return OK;
        case "ENCLAVE:DELETE":
          if (!this.enclaves.has(name)) return notFound("enclave");
          if (mutate) this.enclaves.delete(name);
          return OK;
        case "ENCLAVE:STATUS":
          return this.enclaves.has(name) ? OK : notFound("enclave");
      }
      throw new Error(`model: unknown command ${cmd}`);
    }
    const e = this.enclaves.get(op.enclave);
    if (!e) return notFound("enclave");
    const caller = this.who(identity, op.enclave)!.privilege;
    switch (cmd) {
      case "KEY:CREATE":
      case "KEY:IMPORT":
        if (e.keys.has(name)) return exists("key");
        if (mutate) e.keys.add(name);
        return OK;
      case "KEY:DELETE":
        if (!e.keys.has(name)) return notFound("key");
        if (mutate) e.keys.delete(name); // every key here has one version
        return OK;
      case "KEY:STATUS":
      case "KEY:ENCRYPT":
      case "KEY:DECRYPT":
      case "KEY:GENERATE":
      case "KEY:MAC":
        return e.keys.has(name) ? OK : notFound("key");
      case "KEY:LIST":
      case "POLICY:LIST":
      case "IDENTITY:LIST":
        return OK;
      case "POLICY:CREATE": // creates or replaces
        if (mutate) e.policies.set(name, clonePolicy(op.policy ?? { allow: {}, deny: {} }));
        return OK;
      case "POLICY:DELETE":
        if (!e.policies.has(name)) return notFound("policy");
        if (mutate) {
          e.policies.delete(name);
          for (const i of e.identities.values()) if (i.policy === name) i.policy = "";
        }
        return OK;
      case "POLICY:ASSIGN": {
        const target = e.identities.get(op.identity ?? "");
        if (!target) return notFound("identity");
        if (above(target.privilege, caller)) return DENIED;
        if (!e.policies.has(name)) return notFound("policy");
        if (mutate) target.policy = name;
        return OK;
      }
      case "POLICY:GET":
      case "POLICY:STATUS":
        return e.policies.has(name) ? OK : notFound("policy");
      case "IDENTITY:CREATE": {
        const privilege = op.privilege || "User";
        if (above(privilege, caller)) return DENIED;
        if (e.identities.has(name)) return exists("identity");
        if (mutate) e.identities.set(name, { privilege, policy: "" });
        return OK;
      }
      case "IDENTITY:DELETE": {
        const target = e.identities.get(name);
        if (!target) return notFound("identity");
        if (above(target.privilege, caller)) return DENIED;
        if (mutate) e.identities.delete(name);
        return OK;
      }
      case "IDENTITY:STATUS":
        return e.identities.has(name) ? OK : notFound("identity");
    }
    throw new Error(`model: unknown command ${cmd}`);
  }
}

function clonePolicy(p: ModelPolicy): ModelPolicy {
  const c = (r: Rules) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v]]));
  return { allow: c(p.allow), deny: c(p.deny) };
}

// ---------------------------------------------------------------- driving a server

/** Rules in their wire form: map<command, RuleSet{rules: map<pattern, Rule{}>}>. */
export function wireRules(rules: Rules): Record<string, { rules: Record<string, object> }> {
  return Object.fromEntries(Object.entries(rules).map(([cmd, ps]) => [cmd, { rules: Object.fromEntries(ps.map((p) => [p, {}])) }]));
}

const ZERO32 = new Uint8Array(32).fill(7);
const TEXT = new TextEncoder().encode("hello");
const LIST = { prefix: "", continue_at: "", limit: 0 };

/** The protocol call of an op, and the path enclave it goes to. */
export function callOf(op: Op): Call {
  const id = ID_OF[op.command];
  if (id === undefined) throw new Error(`no such command ${op.command}`);
  const name = op.name ?? "";
  const c = (request: string, message: Record<string, unknown>, response?: string): Call => ({ id, request, response, message });
  switch (op.command) {
    case "CLUSTER:STATUS": return c("ClusterStatusRequest", {}, "ClusterStatusResponse");
    case "ENCLAVE:CREATE": return c("CreateEnclaveRequest", { name });
    case "ENCLAVE:DELETE": return c("DeleteEnclaveRequest", { name });
    case "ENCLAVE:STATUS": return c("EnclaveStatusRequest", { name }, "EnclaveStatusResponse");
    case "ENCLAVE:LIST": return c("ListRequest", LIST, "ListEnclavesResponse");
    case "KEY:CREATE": return c("CreateKeyRequest", { name, type: "", add_version: false });
    case "KEY:DELETE": return c("DeleteKeyRequest", { name, version: 0, all_versions: false });
    case "KEY:IMPORT": return c("ImportKeyRequest", { name, type: "", key: ZERO32 });
    case "KEY:STATUS": return c("KeyStatusRequest", { name, version: 0 }, "KeyStatusResponse");
    case "KEY:ENCRYPT": return c("EncryptRequest", { name, version: 0, plaintext: TEXT, associated_data: new Uint8Array() }, "EncryptResponse");
    case "KEY:DECRYPT":
      return c("DecryptRequest", { name, version: 0, ciphertext: op.ciphertext ?? new Uint8Array(64), associated_data: new Uint8Array() }, "DecryptResponse");
    case "KEY:GENERATE": return c("GenerateKeyRequest", { name, version: 0, associated_data: new Uint8Array(), length: 0 }, "GenerateKeyResponse");
    case "KEY:LIST": return c("ListRequest", LIST, "ListKeysResponse");
    case "KEY:MAC": return c("MACRequest", { name, version: 0, message: TEXT }, "MACResponse");
    case "POLICY:CREATE":
      return c("CreatePolicyRequest", { name, allow: wireRules(op.policy?.allow ?? {}), deny: wireRules(op.policy?.deny ?? {}) });
    case "POLICY:DELETE": return c("DeletePolicyRequest", { name });
    case "POLICY:ASSIGN": return c("AssignPolicyRequest", { identity: op.identity ?? "", policy: name });
    case "POLICY:GET": return c("PolicyRequest", { name }, "PolicyResponse");
    case "POLICY:STATUS": return c("PolicyRequest", { name }, "PolicyStatusResponse");
    case "POLICY:LIST": return c("ListRequest", LIST, "ListPoliciesResponse");
    case "IDENTITY:CREATE": return c("CreateIdentityRequest", { identity: name, privilege: op.privilege ?? "", service_account: false, tags: {} });
    case "IDENTITY:DELETE": return c("DeleteIdentityRequest", { identity: name });
    case "IDENTITY:STATUS": return c("IdentityRequest", { identity: name }, "IdentityResponse");
    case "IDENTITY:LIST": return c("ListRequest", LIST, "ListIdentitiesResponse");
  }
  throw new Error(`no call for ${op.command}`);
}

/** The enclave a request for `op` is sent to ("" for system commands). */
export const pathEnclave = (op: Op) => (isSystem(op.command) ? "" : op.enclave);

/** A server's reply to a batch, reduced: the outcome, and the reply messages when it succeeded. */
export interface Reply {
  readonly outcome: Outcome;
  readonly messages: Array<Record<string, unknown>>;
}

/** Sends ops (one enclave; several only for reads) as one pipelined request. */
export async function send(client: KmsClient, ops: readonly Op[]): Promise<Reply> {
  try {
    const messages = await client.batch(pathEnclave(ops[0]), ops.map(callOf));
    return { outcome: OK, messages };
  } catch (err) {
    if (err instanceof KmsClientError) return { outcome: { status: err.status, message: err.message }, messages: [] };
    throw err;
  }
}

/** The names in a listing reply. */
export function listedNames(command: string, msg: Record<string, unknown>): string[] {
  const items = (field: string) => ((msg[field] as Array<Record<string, unknown>> | undefined) ?? []);
  switch (command) {
    case "ENCLAVE:LIST": return items("enclaves").map((e) => String(e.name));
    case "KEY:LIST": return items("keys").map((k) => String(k.name));
    case "POLICY:LIST": return items("policies").map((p) => String(p.name));
    case "IDENTITY:LIST": return items("identities").map((i) => String(i.identity));
  }
  throw new Error(`${command} is not a listing`);
}

/** Whether an actual outcome matches an expected one (a message of undefined matches any). */
export function sameOutcome(actual: Outcome, expected: Outcome): boolean {
  return actual.status === expected.status && (expected.message === undefined || actual.message === expected.message);
}

export const show = (o: Outcome) => (o.status === 200 ? "200 ok" : `${o.status} ${o.message ?? "(any message)"}`);
