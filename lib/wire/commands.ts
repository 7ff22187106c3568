/**
 * The native commands as both ends of the wire know them: the frame id, the
 * name (also the policy action a rule names), the protobuf messages, and
 * whether the command runs inside an enclave named by the URL path. The
 * server adds handlers (lib/api/native/), the client and the CLI use it as is.
 */

/** One native command's wire facts. */
export interface WireCommand {
  readonly id: number;
  /** Also the policy action name, e.g. "KEY:GENERATE". */
  readonly name: string;
  /** Protobuf message name of the request. */
  readonly request: string;
  /** Protobuf message name of the reply; commands without one reply with an empty frame. */
  readonly response?: string;
  /** Whether the command works inside an enclave named by the URL path (cluster and enclave commands do not). */
  readonly inEnclave: boolean;
}

const TABLE = [
  { id: 1, name: "CLUSTER:ADDNODE", request: "AddClusterNodeRequest", inEnclave: false },
  { id: 2, name: "CLUSTER:REMOVENODE", request: "RemoveClusterNodeRequest", inEnclave: false },
  { id: 3, name: "CLUSTER:STATUS", request: "ClusterStatusRequest", response: "ClusterStatusResponse", inEnclave: false },
  { id: 4, name: "CLUSTER:EDIT", request: "EditClusterRequest", inEnclave: false },
  // A kms extension: MinIO's KMS has no command 1001.
  { id: 1001, name: "CLUSTER:ADMINKEY", request: "AdminKeyRequest", inEnclave: false },
  // kms extensions: HSM keys and deletion protection (docs/recovery.md).
  { id: 1002, name: "CLUSTER:ADDHSM", request: "AddHsmRequest", inEnclave: false },
  { id: 1003, name: "CLUSTER:REMOVEHSM", request: "RemoveHsmRequest", inEnclave: false },
  { id: 1004, name: "CLUSTER:LISTHSM", request: "ClusterStatusRequest", response: "ListHsmResponse", inEnclave: false },
  { id: 1005, name: "CLUSTER:LISTDELETED", request: "ClusterStatusRequest", response: "ListDeletedResponse", inEnclave: false },
  { id: 1101, name: "ENCLAVE:UNDELETE", request: "UndeleteRequest", inEnclave: false },
  { id: 101, name: "ENCLAVE:CREATE", request: "CreateEnclaveRequest", inEnclave: false },
  { id: 102, name: "ENCLAVE:DELETE", request: "DeleteEnclaveRequest", inEnclave: false },
  { id: 103, name: "ENCLAVE:STATUS", request: "EnclaveStatusRequest", response: "EnclaveStatusResponse", inEnclave: false },
  { id: 104, name: "ENCLAVE:LIST", request: "ListRequest", response: "ListEnclavesResponse", inEnclave: false },
  { id: 201, name: "KEY:CREATE", request: "CreateKeyRequest", inEnclave: true },
  { id: 202, name: "KEY:DELETE", request: "DeleteKeyRequest", inEnclave: true },
  { id: 203, name: "KEY:IMPORT", request: "ImportKeyRequest", inEnclave: true },
  { id: 204, name: "KEY:STATUS", request: "KeyStatusRequest", response: "KeyStatusResponse", inEnclave: true },
  { id: 205, name: "KEY:ENCRYPT", request: "EncryptRequest", response: "EncryptResponse", inEnclave: true },
  { id: 206, name: "KEY:DECRYPT", request: "DecryptRequest", response: "DecryptResponse", inEnclave: true },
  { id: 207, name: "KEY:GENERATE", request: "GenerateKeyRequest", response: "GenerateKeyResponse", inEnclave: true },
  { id: 208, name: "KEY:LIST", request: "ListRequest", response: "ListKeysResponse", inEnclave: true },
  { id: 210, name: "KEY:MAC", request: "MACRequest", response: "MACResponse", inEnclave: true },
  { id: 1201, name: "KEY:DERIVE", request: "DeriveKeyRequest", response: "DeriveKeyResponse", inEnclave: true },
  { id: 1202, name: "KEY:REWRAP", request: "RewrapRequest", response: "RewrapResponse", inEnclave: true },
  { id: 1203, name: "KEY:UNDELETE", request: "UndeleteRequest", inEnclave: true },
  { id: 301, name: "POLICY:CREATE", request: "CreatePolicyRequest", inEnclave: true },
  { id: 302, name: "POLICY:DELETE", request: "DeletePolicyRequest", inEnclave: true },
  { id: 303, name: "POLICY:ASSIGN", request: "AssignPolicyRequest", inEnclave: true },
  { id: 304, name: "POLICY:GET", request: "PolicyRequest", response: "PolicyResponse", inEnclave: true },
  { id: 305, name: "POLICY:STATUS", request: "PolicyRequest", response: "PolicyStatusResponse", inEnclave: true },
  { id: 306, name: "POLICY:LIST", request: "ListRequest", response: "ListPoliciesResponse", inEnclave: true },
  { id: 401, name: "IDENTITY:CREATE", request: "CreateIdentityRequest", inEnclave: true },
  { id: 402, name: "IDENTITY:DELETE", request: "DeleteIdentityRequest", inEnclave: true },
  { id: 403, name: "IDENTITY:STATUS", request: "IdentityRequest", response: "IdentityResponse", inEnclave: true },
  { id: 404, name: "IDENTITY:LIST", request: "ListRequest", response: "ListIdentitiesResponse", inEnclave: true },
  // kms extensions: AWS access keys of identities (the AWS KMS API, lib/api/aws).
  { id: 1501, name: "ACCESSKEY:CREATE", request: "CreateAccessKeyRequest", response: "CreateAccessKeyResponse", inEnclave: true },
  { id: 1502, name: "ACCESSKEY:DELETE", request: "DeleteAccessKeyRequest", inEnclave: true },
  { id: 1503, name: "ACCESSKEY:LIST", request: "ListRequest", response: "ListAccessKeysResponse", inEnclave: true },
] as const satisfies readonly WireCommand[];

/** A native command's name, e.g. "KEY:GENERATE". */
export type CommandName = (typeof TABLE)[number]["name"];

/** Every native command, by name, in the table's order. */
export const WIRE_COMMANDS: ReadonlyMap<CommandName, WireCommand> = new Map(TABLE.map((c) => [c.name, c]));

/** The wire facts of one native command. */
export function wireCommand(name: CommandName): WireCommand {
  return WIRE_COMMANDS.get(name)!;
}
