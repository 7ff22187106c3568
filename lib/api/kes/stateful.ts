/**
 * The KES API's backend on the stateful server: every KES request runs in one
 * enclave and is authorised like the native API. KES routes map to native
 * command names (generate → KEY:GENERATE on the key name, …), so a policy
 * written for MinIO's native client also governs its KES client; the HSM
 * admin is SysAdmin. Writes go through KmsNode.write like every other write.
 */
import { encrypt } from "../../crypto/ciphertext.ts";
import { decryptWithVersions } from "../../crypto/keyring.ts";
import { mac } from "../../crypto/mac.ts";
import type { KeyType } from "../../crypto/message-key.ts";
import { randomBytes } from "../../crypto/random.ts";
import type { KmsNode } from "../../node/node.ts";
import { callerReads, Obj } from "../../node/pending.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors } from "../../state/errors.ts";
import { OPERATOR_ACTIONS, type OperatorAction, operatorAllowed } from "../../state/operator.ts";
import { authorize, type Caller, callerOf, listable } from "../../state/policy.ts";
import { page } from "../../state/state.ts";
import type { PolicyRecord } from "../../state/types.ts";
import type { KesAccess, KesBackend, KesOp, KesPolicy, KesRequest } from "./backend.ts";

/** The enclave KES clients use when the server is started without --kes-enclave. */
export const DEFAULT_KES_ENCLAVE = "default";

/** Native command name of each KES key operation. */
export const KES_COMMANDS: Readonly<Partial<Record<KesOp, string>>> = {
  create: "KEY:CREATE",
  import: "KEY:IMPORT",
  describe: "KEY:STATUS",
  list: "KEY:LIST",
  delete: "KEY:DELETE",
  generate: "KEY:GENERATE",
  encrypt: "KEY:ENCRYPT",
  decrypt: "KEY:DECRYPT",
  hmac: "KEY:MAC",
  rewrap: "KEY:REWRAP",
  policyDescribe: "POLICY:STATUS",
  policyRead: "POLICY:GET",
  policyList: "POLICY:LIST",
};

/** The KES path a native key command's patterns govern (create → /v1/key/create/). */
const KES_PATH_OF: ReadonlyMap<string, string> = new Map(
  Object.entries(KES_COMMANDS).filter(([op]) => !op.startsWith("policy")).map(([op, cmd]) => [cmd, `/v1/key/${op}/`]),
);

/**
 * A native policy in KES's form: each rule of a command with a KES route
 * becomes a path pattern (KEY:GENERATE minio-* → /v1/key/generate/minio-*).
 * Commands KES has no route for (policy, identity, enclave) have no KES form.
 */
export function kesPolicyOf(p: PolicyRecord): KesPolicy {
  const paths = (rules: PolicyRecord["allow"]) =>
    Object.entries(rules).flatMap(([cmd, patterns]) => (KES_PATH_OF.has(cmd) ? patterns.map((x) => KES_PATH_OF.get(cmd) + x) : [])).sort();
  return { name: p.name, allow: paths(p.allow), deny: paths(p.deny), createdAt: p.createdAt, createdBy: p.createdBy };
}

const everything: KesAccess = { visible: () => true };

/** The operator action each KES watching route needs. */
const WATCHING: Readonly<Partial<Record<KesOp, OperatorAction>>> = { metrics: "SYS:METRICS", logError: "SYS:LOG", logAudit: "SYS:AUDIT" };

/** What a KES request reads besides its caller (see server/pending.ts). */
function kesReads(enclave: string, req: KesRequest): string[] {
  if (req.op === "list") return [Obj.enclave(enclave), Obj.keys(enclave)];
  if (req.op === "policyList") return [Obj.enclave(enclave), Obj.policies(enclave)];
  if (req.op === "policyDescribe" || req.op === "policyRead") return [Obj.enclave(enclave), Obj.policy(enclave, req.name)];
  if (KES_COMMANDS[req.op] && req.name) return [Obj.enclave(enclave), Obj.key(enclave, req.name)];
  return []; // status, metrics, self: the caller only
}

/** A KesBackend over a node's state, for KES requests in `enclave`. */
export function statefulKes(node: KmsNode, enclave: string): KesBackend {
  const caller = (identity: string | undefined): Caller | undefined => callerOf(node.state, node.info.adminIdentity, identity, enclave);
  const latest = (name: string) => node.state.keyVersion(enclave, name, 0);
  const create = (name: string, type: KeyType, material: Uint8Array, by: string, imported: boolean) =>
    node.write({ type: "key.create", enclave, name, keyType: type, material: encodeBase64(material), addVersion: false, imported, at: Date.now(), by });
  /** The latest version and the binding of its key's ciphertexts; a disabled or pending-deletion key refuses. */
  const sealing = (name: string) => {
    const { ring, binding } = node.state.usableBound(enclave, name);
    return { kv: ring.versions[ring.versions.length - 1], binding };
  };

  return {
    barrier: (identity, req) => node.readBarrier([...callerReads(node.state, node.info.adminIdentity, identity, enclave), ...(req ? kesReads(enclave, req) : [])]),
    // Known: an identity of the enclave, or one allowed to watch the node (from any enclave).
    isKnown: (identity) => caller(identity) !== undefined || OPERATOR_ACTIONS.some((a) => operatorAllowed(node.state, node.info.adminIdentity, identity, a)),

    authorize(identity: string | undefined, req: KesRequest): KesAccess | undefined {
      // Watching the node: SysAdmins, or a policy allowing the operator action in
      // any enclave (state/operator.ts), as on the native API: not only this enclave's identities.
      const watch = WATCHING[req.op];
      if (watch) return operatorAllowed(node.state, node.info.adminIdentity, identity, watch) ? everything : undefined;
      const who = caller(identity);
      if (!who) return undefined;
      const command = KES_COMMANDS[req.op];
      // status, self: any identity known in the enclave.
      if (!command) return everything;
      if (req.op === "list" || req.op === "policyList") {
        return authorize(who, command, enclave) ? { visible: (name) => listable(who, command, name) } : undefined;
      }
      return authorize(who, command, enclave, req.name) ? everything : undefined;
    },

    create: (name, by) => create(name, "AES256", randomBytes(32), by, false),
    import: (name, key, type, by) => create(name, type, key, by, true),

    async describe(name) {
      const kv = latest(name);
      return { name, algorithm: kv.type, createdAt: kv.createdAt, createdBy: kv.createdBy };
    },

    async list(prefix, continueAt, limit, visible) {
      const p = page(node.state.enclave(enclave).keys, prefix, continueAt, limit, visible);
      return { names: p.items.map((r) => r.name), continueAt: p.continueAt };
    },

    delete: (name, by) => node.write({ type: "key.delete", enclave, name, version: 0, allVersions: true, ...node.deletionStamp(by) }),

    async generate(name, context) {
      const { kv, binding } = sealing(name);
      const plaintext = randomBytes(32);
      return { plaintext, ciphertext: encrypt(kv.type, kv.material, kv.version, plaintext, context, binding) };
    },

    async encrypt(name, plaintext, context) {
      const { kv, binding } = sealing(name);
      return encrypt(kv.type, kv.material, kv.version, plaintext, context, binding);
    },

    async decrypt(name, ciphertext, context) {
      const { ring, binding } = node.state.usableBound(enclave, name);
      // Our ciphertexts name their version; KES-format ones open only under imported versions.
      const plaintext = decryptWithVersions(ring.versions, 0, ciphertext, context, binding);
      if (!plaintext) throw Errors.invalidCiphertext();
      return plaintext;
    },

    async hmac(name, message) {
      return mac(sealing(name).kv.material, message);
    },

    storeStatus: () => ({ latencyMs: 0, unreachable: false }),
    ready: () => node.readyForReads(),

    self(identity) {
      const who = caller(identity);
      // Admins and SysAdmins may do everything KES can ask for in the enclave.
      const admin = who?.privilege === "SysAdmin" || who?.privilege === "Admin";
      const record = node.state.enclaves.get(enclave)?.identities.get(identity);
      return {
        identity,
        admin,
        policy: !admin && who?.policy ? kesPolicyOf(who.policy) : undefined,
        createdAt: record?.createdAt ?? node.info.startedAt,
        createdBy: record?.createdBy ?? "",
      };
    },

    policies: () => new Map([...(node.state.enclaves.get(enclave)?.policies.values() ?? [])].map((p) => [p.name, kesPolicyOf(p)])),
  };
}
