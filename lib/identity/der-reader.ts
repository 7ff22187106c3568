/**
 * Just enough DER reading to pull fields out of certificates we did not make,
 * without depending on each runtime's X509Certificate quirks.
 */

/** One TLV element located inside a buffer. */
export interface Element {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the element. */
  readonly end: number;
}

/** Reads the element at `offset`; throws on malformed or truncated input. */
export function readElement(bytes: Uint8Array, offset: number, limit = bytes.length): Element {
  if (offset + 2 > limit) throw new Error("DER: truncated");
  const tag = bytes[offset]!;
  // Multi-byte tag numbers never occur in the structures we read.
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: unsupported tag");
  let at = offset + 1;
  const first = bytes[at++]!;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER: unsupported length");
    length = 0;
    for (let i = 0; i < count; i++) {
      if (at >= limit) throw new Error("DER: truncated");
      length = length * 256 + bytes[at++]!;
    }
  }
  const end = at + length;
  if (end > limit) throw new Error("DER: truncated");
  return { tag, start: offset, contentStart: at, end };
}

/** The children of a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const e = readElement(bytes, at, parent.end);
    out.push(e);
    at = e.end;
  }
  return out;
}

/** The raw DER SubjectPublicKeyInfo of an X.509 certificate. */
export function certificateSpki(der: Uint8Array): Uint8Array {
  const cert = readElement(der, 0);
  if (cert.tag !== 0x30) throw new Error("not an X.509 certificate");
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error("not an X.509 certificate");
  const fields = children(der, tbs);
  // version [0] is optional (absent for v1); then serial, signature, issuer, validity, subject, SPKI.
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0;
  const spki = fields[skip + 5];
  if (!spki || spki.tag !== 0x30) throw new Error("not an X.509 certificate");
  return der.slice(spki.start, spki.end);
}
