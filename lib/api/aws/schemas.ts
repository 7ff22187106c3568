/** Input fields shared by AWS KMS operations, validated with valibot (unknown fields are ignored, as AWS does). */
import * as v from "valibot";

/** A blob: standard padded base64 of `min`–`max` bytes, decoded. */
export function Blob(min: number, max: number) {
  return v.pipe(
    v.string("must be base64 text"),
    v.regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "must be base64 text"),
    v.transform((s) => new Uint8Array(Buffer.from(s, "base64"))),
    v.check((b) => b.length >= min && b.length <= max, `must be ${min} to ${max} bytes`),
  );
}

/** A KeyId in any of its forms (checked by keys.ts). */
export const KeyId = v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(2048, "must be at most 2048 characters"));

/** An encryption context: string pairs, at most 8 KiB in all. */
export const Context = v.optional(v.pipe(
  v.record(v.string(), v.string("values must be strings")),
  v.check((c) => Object.entries(c).reduce((n, [k, val]) => n + k.length + val.length, 0) <= 8192, "must be at most 8192 characters in all"),
));

/** The symmetric encryption algorithm; kms has only AWS's SYMMETRIC_DEFAULT. */
export const Algorithm = v.optional(v.picklist(["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"], "must be an encryption algorithm"));

/** Grant tokens are accepted and ignored (kms has no grants). */
export const GrantTokens = v.optional(v.array(v.string()));

/** A tag list. */
export const TagList = v.pipe(
  v.array(v.object({ TagKey: v.pipe(v.string(), v.minLength(1), v.maxLength(128)), TagValue: v.pipe(v.string(), v.maxLength(256)) })),
  v.maxLength(50, "at most 50 tags"),
);
