/**
 * A file-encryption app written against the AWS Encryption SDK for
 * JavaScript exactly as for AWS KMS: nothing in it knows about kms. The test
 * points it at kms with the environment only (AWS_ENDPOINT_URL_KMS,
 * credentials, and the CA through NODE_EXTRA_CA_CERTS).
 *
 * usage: esdk-app.ts encrypt|decrypt KEY_ARN IN OUT
 */
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { buildClient, CommitmentPolicy, KmsKeyringNode } from "@aws-crypto/client-node";

const [mode, keyArn, input, output] = process.argv.slice(2);
const { encryptStream, decryptStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const keyring = new KmsKeyringNode({ generatorKeyId: keyArn });
const context = { purpose: "esdk-test", file: input };

if (mode === "encrypt") {
  await pipeline(createReadStream(input), encryptStream(keyring, { encryptionContext: context }), createWriteStream(output));
} else {
  await pipeline(createReadStream(input), decryptStream(keyring), createWriteStream(output));
}
console.log(`${mode}ed ${input} → ${output}`);
