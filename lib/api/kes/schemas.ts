/** valibot schemas of the KES API's inputs: names in paths and JSON bodies. */
import * as v from "valibot";
import { decodeBase64 } from "../../encoding/base64.ts";

/** KES key names: 1–80 of [0-9A-Za-z_-], not starting or ending with '-'. */
export const KesName = v.pipe(
  v.string(),
  v.regex(
    /^(?:[0-9A-Za-z_]|[0-9A-Za-z_][0-9A-Za-z_-]{0,78}[0-9A-Za-z_])$/,
    "invalid key name: use 1 to 80 characters of A-Z a-z 0-9 _ - (not starting or ending with -)",
  ),
);

/** A listing prefix: what a name may start with (possibly empty). */
export const KesPrefix = v.pipe(
  v.string(),
  v.regex(/^[0-9A-Za-z_-]{0,80}$/, "invalid prefix: use at most 80 characters of A-Z a-z 0-9 _ -"),
);

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 text → bytes. */
function bytes(field: string) {
  return v.pipe(
    v.string(`invalid ${field}: expected a base64 string`),
    v.regex(B64, `invalid ${field}: not valid base64`),
    v.transform((s) => decodeBase64(s)),
  );
}

/** Optional bytes: absent or null mean empty. */
function optionalBytes(field: string) {
  return v.pipe(v.optional(v.nullable(bytes(field)), null), v.transform((b) => b ?? new Uint8Array(0)));
}

/** The associated data of generate, encrypt and decrypt. */
const Context = optionalBytes("context");

export const GenerateBody = v.object({ context: Context });
export const EncryptBody = v.object({ plaintext: bytes("plaintext"), context: Context });
export const DecryptBody = v.object({ ciphertext: bytes("ciphertext"), context: Context });
export const HmacBody = v.object({ message: bytes("message") });

const Cipher = v.picklist(
  ["AES256", "AES256-GCM_SHA256", "ChaCha20", "XCHACHA20-POLY1305", ""],
  "invalid cipher: use AES256 or ChaCha20",
);

/** import: {key, cipher}; older clients send {bytes, algorithm}. */
export const ImportBody = v.pipe(
  v.object({
    key: v.optional(bytes("key")),
    bytes: v.optional(bytes("key")),
    cipher: v.optional(Cipher),
    algorithm: v.optional(Cipher),
  }),
  v.transform((b) => ({
    key: b.key ?? b.bytes,
    type: /^(ChaCha20|XCHACHA20-POLY1305)$/.test(b.cipher ?? b.algorithm ?? "") ? "ChaCha20" as const : "AES256" as const,
  })),
  // One check: valibot runs every check of a pipe, so a second one would see a missing key.
  v.check((b) => b.key?.length === 32, (issue) => ((issue.input as { key?: Uint8Array }).key ? "invalid key: must be 32 bytes" : "invalid key: missing")),
  v.transform((b) => ({ key: b.key!, type: b.type })),
);
