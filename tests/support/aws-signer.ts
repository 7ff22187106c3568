/**
 * The AWS SDK's own SigV4 signer (@smithy/signature-v4, what
 * @aws-sdk/client-kms signs with) for in-process tests: the verifier is
 * checked against a signer we did not write.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === "string" ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 (HMAC with a secret) in the shape the signer asks for. */
class Sha256 {
  readonly #h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret ? createHmac("sha256", bytes(secret)) : createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }
}

/** A KMS signer for an access key in `region`. */
export function awsSigner(accessKeyId: string, secretAccessKey: string, region: string): SignatureV4 {
  return new SignatureV4({ service: "kms", region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
}
