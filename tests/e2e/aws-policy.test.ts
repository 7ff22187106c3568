/**
 * One policy governs the native and the AWS APIs: an identity whose policy
 * allows only KEY:GENERATE and KEY:DECRYPT on app-* may call GenerateDataKey
 * and Decrypt on app-* keys through the AWS SDK, and is refused everything
 * else (AccessDeniedException), on any key, existing or not; the same
 * identity's native API key is held to the same rules.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as kms from "@aws-sdk/client-kms";
import { KmsClientError } from "../../lib/client/client.ts";
import { awsIdentity } from "../helpers/aws.ts";
import { kmsClient, type Target } from "../helpers/aws-scenario.ts";
import { cleanup, type KmsServer, startServer } from "../helpers/kms.ts";

const ENCLAVE = "policy-1";
let server: KmsServer;
let user: Target & { apiKey: string };
let admin: Target;
let appBlob: Uint8Array;
let otherBlob: Uint8Array;

/** The error name a call fails with, or "ok". */
async function outcome(client: kms.KMSClient, command: object): Promise<string> {
  try {
    await client.send(command as never);
    return "ok";
  } catch (err) {
    return (err as Error).name;
  }
}

describe("AWS API policies: GenerateDataKey and Decrypt on app-* only", () => {
  before(async () => {
    server = await startServer();
    const native = server.client();
    admin = await awsIdentity(native, ENCLAVE, `https://${server.address}`, server.ca, server.caFile);
    await native.createKey(ENCLAVE, "app-1");
    await native.createKey(ENCLAVE, "other-1");
    user = await awsIdentity(native, ENCLAVE, `https://${server.address}`, server.ca, server.caFile, {
      privilege: "User", allow: { "KEY:GENERATE": ["app-*"], "KEY:DECRYPT": ["app-*"] },
    });
    const a = kmsClient(admin);
    appBlob = (await a.send(new kms.EncryptCommand({ KeyId: "app-1", Plaintext: new TextEncoder().encode("for app") }))).CiphertextBlob!;
    otherBlob = (await a.send(new kms.EncryptCommand({ KeyId: "other-1", Plaintext: new TextEncoder().encode("not for app") }))).CiphertextBlob!;
    await a.send(new kms.CreateAliasCommand({ AliasName: "alias/app", TargetKeyId: "app-1" }));
    a.destroy();
  });
  after(cleanup);

  it("allows GenerateDataKey and Decrypt on app-* (by name or alias); GenerateDataKeyWithoutPlaintext is KEY:GENERATE too", async () => {
    const c = kmsClient(user);
    try {
      const dk = await c.send(new kms.GenerateDataKeyCommand({ KeyId: "app-1", KeySpec: "AES_256", EncryptionContext: { a: "b" } }));
      const back = await c.send(new kms.DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { a: "b" } }));
      assert.deepEqual(back.Plaintext, dk.Plaintext);
      assert.equal(new TextDecoder().decode((await c.send(new kms.DecryptCommand({ CiphertextBlob: appBlob }))).Plaintext), "for app");
      assert.equal(await outcome(c, new kms.GenerateDataKeyCommand({ KeyId: "alias/app", NumberOfBytes: 16 })), "ok");
      assert.equal(await outcome(c, new kms.GenerateDataKeyWithoutPlaintextCommand({ KeyId: "app-1", NumberOfBytes: 16 })), "ok");
      // Allowed, so told the truth: no such key.
      assert.equal(await outcome(c, new kms.GenerateDataKeyCommand({ KeyId: "app-missing", NumberOfBytes: 16 })), "NotFoundException");
    } finally {
      c.destroy();
    }
  });

  it("refuses everything else with AccessDeniedException, on existing keys and missing ones alike", async () => {
    const c = kmsClient(user);
    const p = new TextEncoder().encode("x");
    const refused: Array<[string, object]> = [
      ["GenerateDataKey other-1", new kms.GenerateDataKeyCommand({ KeyId: "other-1", NumberOfBytes: 16 })],
      ["GenerateDataKey missing", new kms.GenerateDataKeyCommand({ KeyId: "nope-missing", NumberOfBytes: 16 })],
      ["Decrypt other-1's blob", new kms.DecryptCommand({ CiphertextBlob: otherBlob })],
      ["Encrypt", new kms.EncryptCommand({ KeyId: "app-1", Plaintext: p })],
      ["ReEncrypt", new kms.ReEncryptCommand({ CiphertextBlob: appBlob, DestinationKeyId: "app-1" })],
      ["DescribeKey", new kms.DescribeKeyCommand({ KeyId: "app-1" })],
      ["DescribeKey missing", new kms.DescribeKeyCommand({ KeyId: "no-such-key" })],
      ["DescribeKey missing alias", new kms.DescribeKeyCommand({ KeyId: "alias/no-such-alias" })],
      ["ListKeys", new kms.ListKeysCommand({})],
      ["ListAliases", new kms.ListAliasesCommand({})],
      ["CreateKey", new kms.CreateKeyCommand({})],
      ["GenerateRandom", new kms.GenerateRandomCommand({ NumberOfBytes: 8 })],
      ["GenerateMac", new kms.GenerateMacCommand({ KeyId: "app-1", Message: p, MacAlgorithm: "HMAC_SHA_256" })],
      ["VerifyMac", new kms.VerifyMacCommand({ KeyId: "app-1", Message: p, Mac: p, MacAlgorithm: "HMAC_SHA_256" })],
      ["DisableKey", new kms.DisableKeyCommand({ KeyId: "app-1" })],
      ["EnableKey", new kms.EnableKeyCommand({ KeyId: "app-1" })],
      ["ScheduleKeyDeletion", new kms.ScheduleKeyDeletionCommand({ KeyId: "app-1", PendingWindowInDays: 7 })],
      ["CancelKeyDeletion", new kms.CancelKeyDeletionCommand({ KeyId: "app-1" })],
      ["EnableKeyRotation", new kms.EnableKeyRotationCommand({ KeyId: "app-1" })],
      ["DisableKeyRotation", new kms.DisableKeyRotationCommand({ KeyId: "app-1" })],
      ["GetKeyRotationStatus", new kms.GetKeyRotationStatusCommand({ KeyId: "app-1" })],
      ["RotateKeyOnDemand", new kms.RotateKeyOnDemandCommand({ KeyId: "app-1" })],
      ["ListKeyRotations", new kms.ListKeyRotationsCommand({ KeyId: "app-1" })],
      ["TagResource", new kms.TagResourceCommand({ KeyId: "app-1", Tags: [{ TagKey: "k", TagValue: "v" }] })],
      ["UntagResource", new kms.UntagResourceCommand({ KeyId: "app-1", TagKeys: ["k"] })],
      ["ListResourceTags", new kms.ListResourceTagsCommand({ KeyId: "app-1" })],
      ["CreateAlias", new kms.CreateAliasCommand({ AliasName: "alias/mine", TargetKeyId: "app-1" })],
      ["UpdateAlias", new kms.UpdateAliasCommand({ AliasName: "alias/app", TargetKeyId: "app-1" })],
      ["DeleteAlias", new kms.DeleteAliasCommand({ AliasName: "alias/app" })],
    ];
    try {
      const got = await Promise.all(refused.map(async ([what, cmd]) => `${what}: ${await outcome(c, cmd)}`));
      assert.deepEqual(got, refused.map(([what]) => `${what}: AccessDeniedException`));
    } finally {
      c.destroy();
    }
  });

  it("the same policy holds the identity's native API key to the same rules", async () => {
    const native = server.client(user.apiKey);
    const dek = await native.generate(ENCLAVE, "app-1");
    assert.equal((dek.plaintext as Uint8Array).length, 32);
    await assert.rejects(native.encrypt(ENCLAVE, "app-1", new Uint8Array([1])), (err) => err instanceof KmsClientError && err.status === 403);
    await assert.rejects(native.generate(ENCLAVE, "other-1"), (err) => err instanceof KmsClientError && err.status === 403);
  });
});
