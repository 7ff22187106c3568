/** AWS KMS's cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom, GenerateMac, VerifyMac. */
import * as v from "valibot";
import { equal } from "../../crypto/constant-time.ts";
import { mac } from "../../crypto/mac.ts";
import { parseNamed } from "../../crypto/named-ciphertext.ts";
import { randomBytes } from "../../crypto/random.ts";
import { Errors } from "../../state/errors.ts";
import type { KeyRing } from "../../state/types.ts";
import { ACTIONS } from "./actions.ts";
import { openBlob, sealBlob } from "./blob.ts";
import { Aws } from "./errors.ts";
import { keyArn, lifecycle, MAC_ALGORITHM, readKey, resolveKey } from "./keys.ts";
import { type AwsContext, operation } from "./operation.ts";
import { Algorithm, Blob, Context, GrantTokens, KeyId } from "./schemas.ts";

const SYMMETRIC = "SYMMETRIC_DEFAULT";

/** The ring of a usable encryption key, authorised for `command`. */
async function encryptionKey(ctx: AwsContext, keyId: string, command: string, aliases = true): Promise<KeyRing> {
  const ring = await readKey(ctx, await resolveKey(ctx, keyId, command, aliases), command);
  ctx.node.state.usableKey(ctx.enclave, ring.name);
  if (lifecycle(ring).usage !== "ENCRYPT_DECRYPT") throw Errors.invalidKeyUsage(`${keyArn(ctx, ring.name)} key usage is GENERATE_VERIFY_MAC which is not valid for ${command === ACTIONS.Encrypt ? "Encrypt" : "this operation"}.`);
  return ring;
}

function symmetricOnly(algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== SYMMETRIC) throw Errors.invalidKeyUsage(`the encryption algorithm ${algorithm} needs an asymmetric key: kms keys are symmetric`);
}

/**
 * Opens a CiphertextBlob: the blob names its key; a KeyId, when given, must
 * name the same key (IncorrectKeyException otherwise).
 */
async function openCiphertext(ctx: AwsContext, blob: Uint8Array, context: Record<string, string> | undefined, keyId: string | undefined, command: string) {
  const named = parseNamed(blob);
  if (!named) throw Errors.invalidCiphertext();
  if (keyId !== undefined && await resolveKey(ctx, keyId, command) !== named.name) {
    ctx.authorize(command, named.name);
    throw Errors.incorrectKey();
  }
  const ring = await encryptionKey(ctx, named.name, command);
  const plaintext = openBlob(ring, named, context);
  if (!plaintext) throw Errors.invalidCiphertext();
  return { ring, plaintext };
}

const DataKeyInput = {
  KeyId, EncryptionContext: Context, GrantTokens,
  NumberOfBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024))),
  KeySpec: v.optional(v.picklist(["AES_256", "AES_128"], "must be AES_256 or AES_128")),
};

/** A data key: its plaintext and its blob under the key. */
async function dataKey(ctx: AwsContext, input: v.InferOutput<v.ObjectSchema<typeof DataKeyInput, undefined>>) {
  if ((input.NumberOfBytes === undefined) === (input.KeySpec === undefined)) {
    throw Aws.validation("Please specify either number of bytes or key spec (one of them, not both).");
  }
  const ring = await encryptionKey(ctx, input.KeyId, ACTIONS.GenerateDataKey);
  const plaintext = randomBytes(input.NumberOfBytes ?? (input.KeySpec === "AES_128" ? 16 : 32));
  return { ring, plaintext, blob: sealBlob(ring, plaintext, input.EncryptionContext) };
}

/** The MAC key behind a KeyId and the hash its algorithm names; InvalidKeyUsageException when they do not fit. */
async function macKey(ctx: AwsContext, keyId: string, algorithm: string) {
  const ring = await readKey(ctx, await resolveKey(ctx, keyId, ACTIONS.GenerateMac), ACTIONS.GenerateMac);
  ctx.node.state.usableKey(ctx.enclave, ring.name);
  const lc = lifecycle(ring);
  if (lc.usage !== "GENERATE_VERIFY_MAC") throw Errors.invalidKeyUsage(`${keyArn(ctx, ring.name)} key usage is ENCRYPT_DECRYPT which is not valid for MACs.`);
  if (MAC_ALGORITHM[lc.spec] !== algorithm) throw Errors.invalidKeyUsage(`Algorithm ${algorithm} is incompatible with key spec ${lc.spec}.`);
  return { ring, hash: `sha${algorithm.slice("HMAC_SHA_".length)}` };
}

const MacAlgorithm = v.picklist(["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"], "must be HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512");

/** The cryptographic operations. */
export const cryptoOperations = [
  operation({
    name: "Encrypt",
    schema: v.object({ KeyId, Plaintext: Blob(1, 4096), EncryptionContext: Context, GrantTokens, EncryptionAlgorithm: Algorithm }),
    run: async (ctx, input) => {
      symmetricOnly(input.EncryptionAlgorithm);
      const ring = await encryptionKey(ctx, input.KeyId, ACTIONS.Encrypt);
      return { CiphertextBlob: sealBlob(ring, input.Plaintext, input.EncryptionContext), KeyId: keyArn(ctx, ring.name), EncryptionAlgorithm: SYMMETRIC };
    },
  }),
  operation({
    name: "Decrypt",
    schema: v.object({ CiphertextBlob: Blob(1, 6144), EncryptionContext: Context, GrantTokens, KeyId: v.optional(KeyId), EncryptionAlgorithm: Algorithm }),
    run: async (ctx, input) => {
      symmetricOnly(input.EncryptionAlgorithm);
      const { ring, plaintext } = await openCiphertext(ctx, input.CiphertextBlob, input.EncryptionContext, input.KeyId, ACTIONS.Decrypt);
      return { KeyId: keyArn(ctx, ring.name), Plaintext: plaintext, EncryptionAlgorithm: SYMMETRIC };
    },
  }),
  operation({
    name: "ReEncrypt",
    schema: v.object({
      CiphertextBlob: Blob(1, 6144), SourceEncryptionContext: Context, SourceKeyId: v.optional(KeyId), DestinationKeyId: KeyId,
      DestinationEncryptionContext: Context, SourceEncryptionAlgorithm: Algorithm, DestinationEncryptionAlgorithm: Algorithm, GrantTokens,
    }),
    run: async (ctx, input) => {
      symmetricOnly(input.SourceEncryptionAlgorithm);
      symmetricOnly(input.DestinationEncryptionAlgorithm);
      // Both keys are checked before anything is decrypted; the plaintext never leaves the server.
      const destination = await encryptionKey(ctx, input.DestinationKeyId, ACTIONS.ReEncrypt);
      const { ring, plaintext } = await openCiphertext(ctx, input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId, ACTIONS.ReEncrypt);
      try {
        return {
          CiphertextBlob: sealBlob(destination, plaintext, input.DestinationEncryptionContext),
          SourceKeyId: keyArn(ctx, ring.name), KeyId: keyArn(ctx, destination.name),
          SourceEncryptionAlgorithm: SYMMETRIC, DestinationEncryptionAlgorithm: SYMMETRIC,
        };
      } finally {
        plaintext.fill(0);
      }
    },
  }),
  operation({
    name: "GenerateDataKey",
    schema: v.object(DataKeyInput),
    run: async (ctx, input) => {
      const { ring, plaintext, blob } = await dataKey(ctx, input);
      return { CiphertextBlob: blob, Plaintext: plaintext, KeyId: keyArn(ctx, ring.name) };
    },
  }),
  operation({
    name: "GenerateDataKeyWithoutPlaintext",
    schema: v.object(DataKeyInput),
    run: async (ctx, input) => {
      const { ring, plaintext, blob } = await dataKey(ctx, input);
      plaintext.fill(0);
      return { CiphertextBlob: blob, KeyId: keyArn(ctx, ring.name) };
    },
  }),
  operation({
    name: "GenerateRandom",
    schema: v.object({ NumberOfBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)), 32), CustomKeyStoreId: v.optional(v.string()) }),
    run: (ctx, input) => {
      if (input.CustomKeyStoreId !== undefined) throw Errors.unsupportedOperation("custom key stores are not supported");
      ctx.authorize(ACTIONS.GenerateRandom);
      return { Plaintext: randomBytes(input.NumberOfBytes) };
    },
  }),
  operation({
    name: "GenerateMac",
    schema: v.object({ Message: Blob(1, 4096), KeyId, MacAlgorithm, GrantTokens }),
    run: async (ctx, input) => {
      const { ring, hash } = await macKey(ctx, input.KeyId, input.MacAlgorithm);
      return { Mac: mac(ring.versions[ring.versions.length - 1].material, input.Message, hash), MacAlgorithm: input.MacAlgorithm, KeyId: keyArn(ctx, ring.name) };
    },
  }),
  operation({
    name: "VerifyMac",
    schema: v.object({ Message: Blob(1, 4096), KeyId, MacAlgorithm, Mac: Blob(1, 6144), GrantTokens }),
    run: async (ctx, input) => {
      const { ring, hash } = await macKey(ctx, input.KeyId, input.MacAlgorithm);
      const expected = mac(ring.versions[ring.versions.length - 1].material, input.Message, hash);
      if (!equal(expected, input.Mac)) throw Errors.invalidMac();
      return { KeyId: keyArn(ctx, ring.name), MacValid: true, MacAlgorithm: input.MacAlgorithm };
    },
  }),
];
