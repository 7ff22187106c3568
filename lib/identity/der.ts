/**
 * A minimal DER writer: just the types X.509 certificates and PKCS#8 keys need.
 * Every function returns one complete TLV (tag, length, value) as bytes.
 */

/** Universal tag numbers used below. */
const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Joins byte arrays into one. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes a DER length: short form below 128, else long form. */
export function encodeLength(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("DER: invalid length");
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Wraps content in a TLV with the given single-byte tag. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(tag), encodeLength(content.length), content);
}

/** SEQUENCE of already-encoded elements. */
export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.sequence, concat(...items));
}

/** SET of already-encoded elements, sorted as DER requires for SET OF. */
export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.set, concat(...[...items].sort(compareBytes)));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** INTEGER from an unsigned big-endian magnitude (leading zeros are dropped, a sign byte added if needed). */
export function integer(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = magnitude.subarray(start);
  if (body.length === 0) body = Uint8Array.of(0);
  // The high bit would make the value negative in two's complement.
  if (body[0]! & 0x80) body = concat(Uint8Array.of(0), body);
  return tlv(Tag.integer, body);
}

/** INTEGER from a small non-negative number. */
export function smallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("DER: invalid integer");
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return integer(Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted text such as "2.5.4.3". */
export function oid(dotted: string): Uint8Array {
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new RangeError(`DER: invalid OID ${dotted}`);
  const arcs = dotted.split(".").map((s) => BigInt(s));
  const [a, b] = [arcs[0]!, arcs[1]!];
  if (a > 2n || (a < 2n && b > 39n)) throw new RangeError(`DER: invalid OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40n + b, ...arcs.slice(2)]) {
    // Base-128, most significant group first, continuation bit on all but the last.
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(Tag.oid, Uint8Array.from(out));
}

/** UTF8String. */
export function utf8String(text: string): Uint8Array {
  return tlv(Tag.utf8String, new TextEncoder().encode(text));
}

/** PrintableString; rejects characters outside its alphabet. */
export function printableString(text: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) throw new RangeError("DER: not a PrintableString");
  return tlv(Tag.printableString, new TextEncoder().encode(text));
}

/** IA5String (ASCII), as used by dNSName. */
export function ia5String(text: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError("DER: not an IA5String");
  return tlv(Tag.ia5String, new TextEncoder().encode(text));
}

/** BIT STRING of whole bytes, or with `unusedBits` trailing bits of the last byte unused. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError("DER: invalid unused bits");
  }
  return tlv(Tag.bitString, concat(Uint8Array.of(unusedBits), bytes));
}

/** BIT STRING of named bits (bit 0 is the most significant bit of the first byte), trailing zeros trimmed as DER requires. */
export function namedBits(bits: number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const last = Math.max(...bits);
  const bytes = new Uint8Array((last >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (last & 7));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.octetString, bytes);
}

/** BOOLEAN (DER: true is 0xff). */
export function boolean(value: boolean): Uint8Array {
  return tlv(Tag.boolean, Uint8Array.of(value ? 0xff : 0x00));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function timeDigits(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("DER: invalid date");
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    "Z"
  );
}

/** UTCTime (YYMMDDHHMMSSZ); only years 1950–2049 are representable. */
export function utcTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError("DER: year out of UTCTime range");
  return tlv(Tag.utcTime, new TextEncoder().encode(pad(year % 100, 2) + timeDigits(date)));
}

/** GeneralizedTime (YYYYMMDDHHMMSSZ), whole seconds. */
export function generalizedTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError("DER: year out of range");
  return tlv(Tag.generalizedTime, new TextEncoder().encode(pad(year, 4) + timeDigits(date)));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime after, as RFC 5280 requires. */
export function x509Time(date: Date): Uint8Array {
  return date.getUTCFullYear() < 2050 ? utcTime(date) : generalizedTime(date);
}

/** Context-specific [n] EXPLICIT: wraps a complete encoding in a constructed tag. */
export function explicit(n: number, inner: Uint8Array): Uint8Array {
  if (n < 0 || n > 30) throw new RangeError("DER: tag number out of range");
  return tlv(0xa0 | n, inner);
}

/** Context-specific [n] IMPLICIT: replaces the tag of `content` (raw value bytes); constructed for SEQUENCE/SET bodies. */
export function implicit(n: number, content: Uint8Array, constructed = false): Uint8Array {
  if (n < 0 || n > 30) throw new RangeError("DER: tag number out of range");
  return tlv((constructed ? 0xa0 : 0x80) | n, content);
}
