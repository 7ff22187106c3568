/** Parsing of textual IP addresses into the raw bytes subjectAltName iPAddress wants. */

/** The 4 bytes of an IPv4 address in dotted-quad form, or undefined if `text` is not one. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    // No leading zeros: "010" is octal to some parsers, so refuse the ambiguity.
    if (!/^(0|[1-9]\d{0,2})$/.test(parts[i]!)) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** The 16 bytes of an IPv6 address (with "::" and a trailing dotted IPv4 allowed), or undefined. */
export function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const all = [...head, ...tail];
  let v4: Uint8Array | undefined;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes(".")) {
    // The dotted quad must be the final 32 bits, so it cannot sit before a trailing "::".
    if (halves.length === 2 && tail.length === 0) return undefined;
    v4 = parseIPv4(last);
    if (!v4) return undefined;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const toWords = (list: string[]) => {
    const ws: number[] = [];
    for (const g of list) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      ws.push(parseInt(g, 16));
    }
    return ws;
  };
  const hw = toWords(head);
  const tw = toWords(tail);
  if (!hw || !tw) return undefined;
  const total = 8 - (v4 ? 2 : 0);
  const explicitCount = hw.length + tw.length;
  if (halves.length === 2) {
    // "::" stands for at least one zero group.
    if (explicitCount >= total) return undefined;
    words.push(...hw, ...new Array<number>(total - explicitCount).fill(0), ...tw);
  } else {
    if (explicitCount !== total) return undefined;
    words.push(...hw);
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/** Raw bytes of an IPv4 or IPv6 address; throws if `text` is neither. */
export function ipAddressBytes(text: string): Uint8Array {
  const bytes = parseIPv4(text) ?? parseIPv6(text);
  if (!bytes) throw new RangeError(`invalid IP address: ${text}`);
  return bytes;
}
