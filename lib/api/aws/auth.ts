/**
 * Who an AWS KMS request is: its SigV4 signature checked with the secret of
 * the access key it names, then the access key's identity resolved as a
 * caller in the enclave the request's region names (the region IS the
 * enclave's name). An access key works in its own enclave's region; a
 * SysAdmin's works in every region.
 */
import { checkSigV4, isFailure, parseSigV4, type SigV4Request } from "../../crypto/sigv4.ts";
import { openSecret, sealKey } from "../../node/access-keys.ts";
import type { KmsNode } from "../../node/node.ts";
import { callerReads, Obj } from "../../node/pending.ts";
import { type Caller, callerOf } from "../../state/policy.ts";
import { AwsError } from "./errors.ts";

const unknownKey = () => new AwsError("UnrecognizedClientException", "The security token included in the request is invalid.");

/** The authenticated caller of a request and the enclave its region names. */
export interface AwsCaller {
  readonly caller: Caller;
  readonly region: string;
  readonly enclave: string;
  /** What resolving the caller read (pending changes to these delay the request). */
  readonly reads: readonly string[];
}

/** Authenticates `req` at time `now`; throws an AwsError saying why when it may not proceed. */
export async function authenticate(node: KmsNode, req: SigV4Request, now: number): Promise<AwsCaller> {
  const auth = parseSigV4(req.headers);
  if (isFailure(auth)) throw new AwsError(auth.error, auth.message);
  // The operation must be signed too, or a captured request could be replayed as another operation on the same body
  // (EnableKey's {"KeyId"} as ScheduleKeyDeletion). Both SDKs sign X-Amz-Target.
  if (!auth.signedHeaders.includes("x-amz-target")) throw new AwsError("IncompleteSignatureException", "SignedHeaders must include x-amz-target");
  // Session tokens come from AWS STS, which kms is not.
  if (req.headers.get("x-amz-security-token") !== null) throw unknownKey();
  await node.readBarrier([Obj.accessKey(auth.accessKeyId)]);
  const record = node.state.accessKey(auth.accessKeyId);
  const secret = record && openSecret(sealKey(node), record);
  if (!record || secret === undefined) throw unknownKey();
  const bad = checkSigV4(auth, req, secret, now);
  if (bad) throw new AwsError(bad.error, bad.message);
  const admin = node.info.adminIdentity;
  const region = auth.region;
  const everywhere = record.identity === admin || node.state.isSysAdmin(record.identity);
  if (region !== record.enclave && !everywhere) {
    throw new AwsError("InvalidSignatureException", `Credential should be scoped to a valid region: this access key works in region '${record.enclave}' (regions are enclaves)`);
  }
  const reads = [...callerReads(node.state, admin, record.identity, region), Obj.enclave(region), Obj.accessKey(auth.accessKeyId)];
  await node.readBarrier(reads);
  // The access key is deleted with its identity: a key that went while the request waited is unknown now.
  if (node.state.accessKey(auth.accessKeyId)?.identity !== record.identity) throw unknownKey();
  const caller = callerOf(node.state, admin, record.identity, region);
  if (!caller) throw new AwsError("AccessDeniedException", "access denied: insufficient permissions");
  return { caller, region, enclave: region, reads };
}
