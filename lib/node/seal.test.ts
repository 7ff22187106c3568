import { test } from "node:test";
import assert from "node:assert/strict";
import { fromJson, toJson } from "./seal.ts";

test("toJson and fromJson: bytes anywhere round-trip as {\"$bytes\"}, and values without bytes are plain JSON", () => {
  const bytes = new Uint8Array([0, 1, 254, 255]);
  const withBytes = { a: 1, nested: [{ data: bytes }, "x"], deep: { deeper: { b: new Uint8Array(0) } } };
  const text = toJson(withBytes);
  assert.ok(text.includes('{"$bytes":"AAH+/w=="}'), text);
  assert.deepEqual(fromJson(text), { a: 1, nested: [{ data: bytes }, "x"], deep: { deeper: { b: new Uint8Array(0) } } });
  assert.deepEqual(fromJson(toJson(bytes)), bytes);

  const plain = { index: 3, term: 1, type: "cmd", cmd: { type: "key.create", name: "k", at: 2, ok: true, none: null }, list: [1, "two", [3]] };
  assert.equal(toJson(plain), JSON.stringify(plain));
  assert.deepEqual(fromJson(toJson(plain)), plain);
  // Text that merely mentions the marker, or an object that is not only the marker, stays as it is.
  assert.deepEqual(fromJson(toJson({ s: '"$bytes"' })), { s: '"$bytes"' });
  assert.deepEqual(fromJson('{"o":{"$bytes":"AA==","more":1}}'), { o: { $bytes: "AA==", more: 1 } });
  assert.deepEqual(fromJson('{"o":{"$bytes":"AA=="}}'), { o: new Uint8Array([0]) });
});
