/**
 * The textual form of a software HSM key: `hsm:aes256:` followed by the
 * standard, padded base64 of exactly 32 bytes.
 */
import * as v from "valibot";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";

export const HSM_KEY_PREFIX = "hsm:aes256:";
export const HSM_KEY_SIZE = 32;

// Padded standard base64 (no URL-safe alphabet, no missing padding).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// 32 bytes leave 4 unused bits in the last symbol; they must be zero so that
// each key has exactly one text.
const CANONICAL_TAIL = /[AEIMQUYcgkosw048]=$/;

const body = (text: string) => text.slice(HSM_KEY_PREFIX.length);
// Byte count of padded base64, without decoding it.
const decodedLength = (b64: string) => (b64.length / 4) * 3 - (b64.match(/=*$/)?.[0].length ?? 0);

/**
 * Validates the key text and decodes it to its 32 key bytes. Issue messages
 * are fixed strings that never include the input.
 */
export const HsmKeyText = v.pipe(
  v.string("it is not a string"),
  v.transform((text) => text.trim()),
  v.nonEmpty("it is empty"),
  v.startsWith(HSM_KEY_PREFIX, `it does not start with '${HSM_KEY_PREFIX}'`),
  v.check((text) => BASE64.test(body(text)), `the part after '${HSM_KEY_PREFIX}' is not standard padded base64`),
  v.check((text) => decodedLength(body(text)) === HSM_KEY_SIZE, `it does not encode exactly ${HSM_KEY_SIZE} bytes`),
  v.check((text) => CANONICAL_TAIL.test(text), "its base64 is not in canonical form"),
  v.transform((text) => decodeBase64(body(text))),
  v.length(HSM_KEY_SIZE, `it does not encode exactly ${HSM_KEY_SIZE} bytes`),
);

/** Formats 32 key bytes as HSM key text. */
export function formatHsmKey(key: Uint8Array): string {
  if (key.length !== HSM_KEY_SIZE) throw new RangeError(`formatHsmKey: key must be ${HSM_KEY_SIZE} bytes`);
  return HSM_KEY_PREFIX + encodeBase64(key);
}
