import { test } from "node:test";
import assert from "node:assert/strict";
import * as der from "./der.ts";
import { certificateSpki, children, readElement } from "./der-reader.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const ascii = (s: string) => hex(new TextEncoder().encode(s));

test("lengths use short form below 128 and long form above", () => {
  assert.equal(hex(der.encodeLength(0)), "00");
  assert.equal(hex(der.encodeLength(127)), "7f");
  assert.equal(hex(der.encodeLength(128)), "8180");
  assert.equal(hex(der.encodeLength(256)), "820100");
  assert.equal(hex(der.encodeLength(65536)), "83010000");
  assert.equal(hex(der.octetString(new Uint8Array(200))).slice(0, 6), "0481c8");
});

test("INTEGER drops leading zeros and adds a sign byte", () => {
  assert.equal(hex(der.integer(Uint8Array.of(0))), "020100");
  assert.equal(hex(der.integer(new Uint8Array(0))), "020100");
  assert.equal(hex(der.integer(Uint8Array.of(0x7f))), "02017f");
  assert.equal(hex(der.integer(Uint8Array.of(0x80))), "02020080");
  assert.equal(hex(der.integer(Uint8Array.of(0, 0, 1))), "020101");
  assert.equal(hex(der.integer(Uint8Array.of(0, 0xff))), "020200ff");
  assert.equal(hex(der.smallInteger(2)), "020102");
  assert.equal(hex(der.smallInteger(256)), "02020100");
});

test("OBJECT IDENTIFIER encodes arcs in base 128", () => {
  assert.equal(hex(der.oid("2.5.4.3")), "0603550403");
  assert.equal(hex(der.oid("1.2.840.113549.1.1.11")), "06092a864886f70d01010b");
  assert.equal(hex(der.oid("1.3.101.112")), "06032b6570");
  assert.equal(hex(der.oid("1.2.840.10045.3.1.7")), "06082a8648ce3d030107");
  assert.equal(hex(der.oid("2.999.3")), "0603883703"); // X.690 §8.19.5 example
  assert.throws(() => der.oid("1"));
  assert.throws(() => der.oid("1.40"));
  assert.throws(() => der.oid("1.2.x"));
});

test("strings, booleans, octet and bit strings", () => {
  assert.equal(hex(der.utf8String("h1:é")), "0c05" + "68313a" + "c3a9");
  assert.equal(hex(der.printableString("Test CA")), "1307" + ascii("Test CA"));
  assert.throws(() => der.printableString("a_b"));
  assert.equal(hex(der.ia5String("a.b")), "1603" + ascii("a.b"));
  assert.equal(hex(der.boolean(true)), "0101ff");
  assert.equal(hex(der.boolean(false)), "010100");
  assert.equal(hex(der.octetString(Uint8Array.of(1, 2))), "04020102");
  assert.equal(hex(der.bitString(Uint8Array.of(0xab))), "030200ab");
  assert.equal(hex(der.bitString(new Uint8Array(0))), "030100");
});

test("named bits trim trailing zero bits", () => {
  assert.equal(hex(der.namedBits([0])), "03020780"); // keyUsage digitalSignature
  assert.equal(hex(der.namedBits([0, 5])), "03020284"); // + keyCertSign
  assert.equal(hex(der.namedBits([5, 6])), "03020106"); // keyCertSign + cRLSign
  assert.equal(hex(der.namedBits([0, 8])), "0303078080");
  assert.equal(hex(der.namedBits([])), "030100");
});

test("times use UTCTime through 2049 and GeneralizedTime after", () => {
  const d = new Date("2019-12-16T03:02:10Z");
  assert.equal(hex(der.utcTime(d)), "170d" + ascii("191216030210Z"));
  assert.equal(hex(der.generalizedTime(d)), "180f" + ascii("20191216030210Z"));
  assert.equal(hex(der.x509Time(new Date("2049-12-31T23:59:59Z"))), "170d" + ascii("491231235959Z"));
  assert.equal(hex(der.x509Time(new Date("2050-01-01T00:00:00Z"))), "180f" + ascii("20500101000000Z"));
  assert.throws(() => der.utcTime(new Date("2050-01-01T00:00:00Z")));
});

test("constructed types and context-specific tags", () => {
  assert.equal(hex(der.sequence()), "3000");
  assert.equal(hex(der.sequence(der.smallInteger(1), der.boolean(true))), "3006020101" + "0101ff");
  // SET OF is sorted by encoding.
  assert.equal(hex(der.set(der.smallInteger(2), der.smallInteger(1))), "3106020101020102");
  assert.equal(hex(der.explicit(0, der.smallInteger(2))), "a003020102");
  assert.equal(hex(der.explicit(3, der.sequence())), "a3023000");
  assert.equal(hex(der.implicit(2, new TextEncoder().encode("a"))), "820161");
  assert.equal(hex(der.implicit(7, Uint8Array.of(127, 0, 0, 1))), "87047f000001");
  assert.equal(hex(der.implicit(1, der.smallInteger(5), true)), "a103020105");
});

test("reader walks what the writer wrote", () => {
  const bytes = der.sequence(der.smallInteger(7), der.octetString(new Uint8Array(300)));
  const top = readElement(bytes, 0);
  assert.equal(top.tag, 0x30);
  assert.equal(top.end, bytes.length);
  const [a, b] = children(bytes, top);
  assert.equal(a!.tag, 0x02);
  assert.equal(b!.tag, 0x04);
  assert.equal(b!.end - b!.contentStart, 300);
  assert.throws(() => readElement(bytes.subarray(0, bytes.length - 1), 0), /truncated/);
  assert.throws(() => certificateSpki(der.octetString(Uint8Array.of(1))), /not an X.509 certificate/);
});
