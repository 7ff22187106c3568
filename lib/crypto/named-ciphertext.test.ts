import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeContext, joinNamed, namedHeader, parseNamed } from "./named-ciphertext.ts";

test("encodeContext is order-independent and unambiguous", () => {
  const hex = (c: Record<string, string>) => Buffer.from(encodeContext(c)).toString("hex");
  assert.equal(hex({ a: "1", b: "2" }), hex({ b: "2", a: "1" }));
  // Pairs that concatenate to the same text differ here.
  const same: Record<string, string>[] = [{ n: "1", purpose: "scenario" }, { n1purpose: "scenario" }, { n: "1purposescenario" }, { "": "n1purposescenario" }];
  assert.equal(new Set(same.map(hex)).size, same.length);
  assert.equal(hex({}), hex(undefined as unknown as Record<string, string>));
  assert.equal(hex({}), "00000000");
});

test("a named ciphertext parses back to its key name; anything else is not one", () => {
  const header = namedHeader("key-1");
  const ct = joinNamed(header, new Uint8Array([0x6b, 0x02, 1, 2, 3]));
  const parsed = parseNamed(ct)!;
  assert.equal(parsed.name, "key-1");
  assert.deepEqual([...parsed.header], [...header]);
  assert.deepEqual([...parsed.inner], [0x6b, 0x02, 1, 2, 3]);
  for (const bad of [new Uint8Array(), new Uint8Array([0x6b, 0x02, 5]), header, new Uint8Array([0x6b, 0x03, 0, 1]), new Uint8Array([0x6b, 0x03, 81, ...new Uint8Array(90)])]) {
    assert.equal(parseNamed(bad), undefined);
  }
  assert.throws(() => namedHeader(""), RangeError);
  assert.throws(() => namedHeader("x".repeat(81)), RangeError);
});
