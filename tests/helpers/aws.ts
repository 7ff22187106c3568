/** Helpers for tests of the AWS KMS API: an identity with an access key in an enclave, as its target. */
import type { KmsClient } from "../../lib/client/client.ts";
import { newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import type { Target } from "./aws-scenario.ts";

/** Options of awsIdentity. */
export interface AwsIdentityOptions {
  readonly privilege?: "Admin" | "User";
  /** A policy to create (named after the enclave) and assign: command → patterns. */
  readonly allow?: Record<string, string[]>;
}

/**
 * Adds an identity to `enclave` (created when missing) through the native
 * protocol, gives it an access key (kms add-access-key's call) and returns
 * the AWS target for it on `endpoint` (and its native API key).
 */
export async function awsIdentity(admin: KmsClient, enclave: string, endpoint: string, ca: string, caFile: string, opts: AwsIdentityOptions = {}): Promise<Target & { identity: string; apiKey: string }> {
  await admin.createEnclave(enclave).catch((err) => {
    if (!/already exists/.test((err as Error).message)) throw err;
  });
  const apiKey = newApiKey();
  const identity = parseApiKey(apiKey).identity;
  await admin.createIdentity(enclave, identity, opts.privilege ?? "Admin");
  if (opts.allow) {
    await admin.createPolicy(enclave, `${enclave}-policy`, opts.allow);
    await admin.assignPolicy(enclave, `${enclave}-policy`, identity);
  }
  const key = await admin.createAccessKey(enclave, identity);
  return {
    endpoint, region: enclave, accessKeyId: key.access_key_id as string, secretAccessKey: key.secret_access_key as string, ca, caFile, identity, apiKey,
  };
}
