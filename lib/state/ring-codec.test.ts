import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { COMPACT, compactRing, Creators, ringOfCompact } from "./ring-codec.ts";
import { apply } from "./apply.ts";
import type { Command } from "./commands.ts";
import { recordOf, recordsOf, stateOf } from "./records.ts";
import { State } from "./state.ts";
import type { KeyRing, KeyVersion } from "./types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const version = (n: number, fill: number, over: Partial<KeyVersion> = {}): KeyVersion => ({
  version: n, type: "AES256", material: new Uint8Array(32).fill(fill), imported: false, createdAt: 1_796_402_170_359 + n, createdBy: "h1:rJz_rzt4XWpoymv0LbeOpiiV8wPVOI0tNDjossE4B_A", ...over,
});
const ring = (name: string, versions: KeyVersion[], over: Partial<KeyRing> = {}): KeyRing => ({ enclave: "bench", name, nextVersion: versions.length + 1, versions, ...over });
/** A ring's record as kms writes it. */
const recordBytes = (r: KeyRing) => recordOf({ kind: "key", enclave: r.enclave, name: r.name, value: r })[1]!;
/** The ring parsed by the full path (JSON, valibot, base64), as a start without the codec read it. */
const parsedFully = (r: KeyRing) => stateOf(new Map([["e/bench", enc.encode('{"name":"bench","createdAt":1,"createdBy":"h1:a"}')], [`k/bench/${r.name}`, recordBytes(r)]])).keyRing("bench", r.name);

function compact(json: Uint8Array, name: string, creators = new Creators()): Uint8Array | undefined {
  const out = new Uint8Array(1 << 16);
  const n = compactRing(json, "bench", name, creators, out);
  return n > 0 ? out.slice(0, n) : undefined;
}

test("kms's plain rings are held in 57 bytes per version and read back as the full parser reads them, to the same record bytes", () => {
  const rings = [
    ring("key-000001", [version(1, 7)]),
    ring("k", [version(1, 1, { imported: true, type: "ChaCha20" }), version(3, 2), version(4, 255, { createdBy: "h1:other", createdAt: 0 })], { nextVersion: 9 }),
    ring("name-9", [version(2 ** 32 - 1, 9)], { nextVersion: 2 ** 32 - 1 }),
  ];
  const creators = new Creators();
  for (const r of rings) {
    const json = recordBytes(r);
    const held = compact(json, r.name, creators);
    assert.ok(held, `${r.name} is held compact`);
    assert.equal(held[0], COMPACT);
    assert.equal(held.length, 7 + 50 * r.versions.length);
    const back = ringOfCompact(held, "bench", r.name, creators);
    assert.deepEqual(back, parsedFully(r), "the same ring as the full parser's");
    assert.equal(dec.decode(recordBytes(back)), dec.decode(json), "written again, the same record");
  }
});

test("a ring as apply() writes it (nextVersion after the versions) is held compact too, and reads as the full parser reads it", () => {
  const s = new State();
  const by = "h1:rJz_rzt4XWpoymv0LbeOpiiV8wPVOI0tNDjossE4B_A";
  const commands: Command[] = [
    { type: "enclave.create", name: "bench", at: 1, by },
    { type: "key.create", enclave: "bench", name: "made", keyType: "ChaCha20", material: Buffer.alloc(32, 5).toString("base64"), addVersion: false, at: 2, by },
    { type: "key.create", enclave: "bench", name: "made", keyType: "AES256", material: Buffer.alloc(32, 6).toString("base64"), addVersion: true, at: 3, by },
  ];
  let json: Uint8Array | undefined;
  for (const cmd of commands) for (const [key, value] of recordsOf(apply(s, cmd), s.commit)) if (key === "k/bench/made") json = value!;
  assert.match(dec.decode(json!), /"versions":\[.*\],"nextVersion":3}$/, "apply()'s layout");
  const creators = new Creators();
  const held = compact(json!, "made", creators);
  assert.ok(held, "held compact");
  assert.deepEqual(ringOfCompact(held, "bench", "made", creators), parsedFully(s.keyRing("bench", "made")));
  assert.equal(compact(enc.encode(dec.decode(json!).replace(/,"nextVersion":3}$/, "}")), "made"), undefined, "no nextVersion at all");
});

test("any other record stays JSON: the codec declines what it does not read exactly", () => {
  const base = recordBytes(ring("key-1", [version(1, 7)]));
  const text = dec.decode(base);
  const variants: Array<[string, string]> = [
    ["a lifecycle", text.replace(/]}$/, '],"lifecycle":{"state":"Disabled","automatic":[]}}')],
    ["another name", text],
    ["an escaped creator", text.replace('"createdBy":"h1:', '"createdBy":"h1:\\u0041')],
    ["a non-ASCII creator", text.replace('"createdBy":"h1:', '"createdBy":"h1:é')],
    ["a fraction", text.replace(/"createdAt":(\d+)/, '"createdAt":$1.5')],
    ["an exponent", text.replace(/"createdAt":(\d+)/, '"createdAt":1e3')],
    ["a leading zero", text.replace('"version":1', '"version":01')],
    ["a negative number", text.replace('"version":1', '"version":-1')],
    ["material of 16 bytes", text.replace(/"material":"[^"]+"/, `"material":"${Buffer.alloc(16, 1).toString("base64")}"`)],
    ["non-canonical base64", text.replace(/"material":"([^"]{42})[^"]="/, '"material":"$1B="')],
    ["no imported field", text.replace('"imported":false,', "")],
    ["an extra field", text.replace('"nextVersion"', '"extra":1,"nextVersion"')],
    ["fields in another order", text.replace(/"type":"AES256","material":("[^"]+")/, '"material":$1,"type":"AES256"')],
    ["no versions", text.replace(/"versions":\[.*]}$/, '"versions":[]}')],
    ["trailing bytes", text + " "],
    ["whitespace", text.replace('"nextVersion":', '"nextVersion": ')],
    ["another type", text.replace("AES256", "AES128")],
  ];
  assert.ok(compact(base, "key-1"), "the record itself is read");
  for (const [what, variant] of variants) {
    if (what !== "another name") assert.notEqual(variant, text, what);
    assert.equal(compact(enc.encode(variant), what === "another name" ? "key-2" : "key-1"), undefined, what);
  }
});
