/** PEM armour: base64 DER between BEGIN/END lines (RFC 7468). */

import { Buffer } from "node:buffer";

/** Wraps DER bytes as PEM with the given label, 64 characters per line. */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block with `label`; throws if there is none. */
export function pemDecode(text: string, label: string): Uint8Array {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const from = text.indexOf(begin);
  const to = from < 0 ? -1 : text.indexOf(end, from + begin.length);
  if (from < 0 || to < 0) throw new Error(`no PEM ${label} found`);
  const body = text.slice(from + begin.length, to).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error(`malformed PEM ${label}`);
  return new Uint8Array(Buffer.from(body, "base64"));
}
