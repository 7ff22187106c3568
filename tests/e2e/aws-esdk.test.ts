/**
 * The AWS Encryption SDK for JavaScript (@aws-crypto/client-node) through
 * kms: an app written for AWS KMS (tests/aws/esdk-app.ts) encrypts and
 * decrypts a file with a kms key, configured by the environment alone.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand } from "@aws-sdk/client-kms";
import { cleanup, type KmsServer, startServer, tempDir } from "../helpers/kms.ts";
import { awsIdentity } from "../helpers/aws.ts";
import { kmsClient, type Target } from "../helpers/aws-scenario.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BUN = path.join(ROOT, "node_modules/.bin/bun");

let server: KmsServer;
let target: Target;
let keyArn: string;
let dir: string;

/** Runs the app with only the AWS environment pointing it at kms. */
function app(mode: "encrypt" | "decrypt", input: string, output: string): Promise<{ code: number; out: string }> {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_KMS: target.endpoint, AWS_ACCESS_KEY_ID: target.accessKeyId, AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    NODE_EXTRA_CA_CERTS: target.caFile!,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(BUN, [path.join(ROOT, "tests/aws/esdk-app.ts"), mode, keyArn, input, output], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

describe("the AWS Encryption SDK (client-node) through kms", () => {
  before(async () => {
    server = await startServer();
    target = await awsIdentity(server.client(), "esdk-1", `https://${server.address}`, server.ca, server.caFile);
    const kms = kmsClient(target);
    keyArn = (await kms.send(new CreateKeyCommand({ Description: "esdk" }))).KeyMetadata!.Arn!;
    kms.destroy();
    dir = tempDir("kms-esdk-");
  });
  after(cleanup);

  it("encrypts a file and decrypts it again; the message names the kms key; a disabled key refuses the decryption", async () => {
    const plain = path.join(dir, "plain.bin"), enc = path.join(dir, "plain.bin.encrypted"), dec = path.join(dir, "plain.bin.decrypted");
    const data = randomBytes(256 * 1024 + 17);
    writeFileSync(plain, data);
    const e = await app("encrypt", plain, enc);
    assert.equal(e.code, 0, e.out);
    const message = readFileSync(enc);
    assert.ok(message.includes(Buffer.from(keyArn)), "the ESDK message records the key's ARN as the data key's provider info");
    assert.ok(!message.includes(data.subarray(0, 64)));
    const d = await app("decrypt", enc, dec);
    assert.equal(d.code, 0, d.out);
    assert.deepEqual(readFileSync(dec), data);

    const kms = kmsClient(target);
    try {
      await kms.send(new DisableKeyCommand({ KeyId: keyArn }));
      const refused = await app("decrypt", enc, path.join(dir, "refused.bin"));
      assert.notEqual(refused.code, 0);
      assert.match(refused.out, /DisabledException|key is disabled/);
      await kms.send(new EnableKeyCommand({ KeyId: keyArn }));
    } finally {
      kms.destroy();
    }
  });
});
