/**
 * The hand codec of flat messages must read and write exactly what
 * protobufjs does (the wire contract with MinIO's client), and leave every
 * case it does not handle to protobufjs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FlatCodec } from "./flat.ts";
import { decode, decodeIn, encode, encodeFrame, messageType } from "./proto.ts";
import { Buffer } from "node:buffer";
import { FramePieces, FRAME_PIECE, parseFrames } from "./frames.ts";

const FLAT = [
  "GenerateKeyRequest", "GenerateKeyResponse", "EncryptRequest", "EncryptResponse", "DecryptRequest", "DecryptResponse",
  "MACRequest", "MACResponse", "DeriveKeyRequest", "DeriveKeyResponse", "KeyStatusRequest", "ListRequest", "ErrResponse",
];

/** A seeded generator, so a failure repeats. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000);
}

const codec = (name: string) => {
  const c = FlatCodec.of(messageType(name));
  assert.ok(c, `${name} is flat`);
  return c;
};

/** Bytes as plain arrays, so a Buffer and a Uint8Array compare by content. */
const plain = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]));

/** A random message of `name`: each field absent, zero or a random value (long bytes and large numbers included). */
function randomMessage(name: string, r: () => number): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const f of messageType(name).fieldsArray) {
    const roll = r();
    if (roll < 0.15) continue;
    const zero = roll < 0.3;
    if (f.type === "uint32") m[f.name] = zero ? 0 : [1, 127, 128, 300, 16_383, 16_384, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1][Math.floor(r() * 9)];
    else if (f.type === "string") m[f.name] = zero ? "" : Array.from({ length: Math.floor(r() * 200) + 1 }, () => String.fromCharCode(32 + Math.floor(r() * 95))).join("");
    else m[f.name] = zero ? new Uint8Array(0) : Uint8Array.from({ length: [1, 60, 127, 128, 20_000][Math.floor(r() * 5)] }, () => Math.floor(r() * 256));
  }
  return m;
}

test("only flat messages get the hand codec", () => {
  for (const name of FLAT) codec(name);
  for (const name of ["CreateKeyRequest", "ServerStatusResponse", "ListKeysResponse", "EditClusterRequest", "LogRequest", "ClusterStatusRequest"]) {
    assert.equal(FlatCodec.of(messageType(name)), undefined, `${name} is not flat`);
  }
});

test("the hand codec writes and reads exactly what protobufjs does", () => {
  const r = rng(12);
  for (const name of FLAT) {
    const c = codec(name);
    for (let i = 0; i < 150; i++) {
      const m = randomMessage(name, r);
      const expected = encode(name, m);
      const size = c.size(m);
      assert.equal(size, expected.length, `${name} size of ${JSON.stringify(plain(m))}`);
      const out = new Uint8Array(size + 4);
      assert.equal(c.write(m, out, 2), 2 + size);
      assert.ok(Buffer.from(out.subarray(2, 2 + size)).equals(expected), `${name} bytes`);
      // Read back from inside a larger buffer: uint32s from 2^28 on take five bytes, left to protobufjs.
      const body = new Uint8Array(expected.length + 3);
      body.set(expected, 1);
      const got = c.decode(body, 1, 1 + expected.length);
      const big = Object.values(m).some((v) => typeof v === "number" && v >= 2 ** 28);
      if (big) assert.equal(got, undefined);
      else {
        assert.ok(got, `${name} decoded in place`);
        assert.deepEqual(plain(got), plain(decode(name, expected)), `${name} decoded`);
        assert.deepEqual(Object.keys(got), Object.keys(decode(name, expected)), "keys in protobufjs's order");
      }
      assert.deepEqual(plain(decodeIn(name, body, 1, 1 + expected.length)), plain(decode(name, expected)));
    }
  }
});

test("what the hand codec does not handle goes to protobufjs, with protobufjs's answer", () => {
  const c = codec("GenerateKeyRequest");
  const utf8 = (s: string) => [...new TextEncoder().encode(s)];
  const cases: Array<[string, number[]]> = [
    ["an unknown field", [0x0a, 1, 0x6b, 0x28, 5]],
    ["a field twice", [0x0a, 1, 0x6b, 0x0a, 1, 0x6c]],
    ["a non-ASCII name", [0x0a, 2, ...utf8("é")]],
    ["invalid UTF-8", [0x0a, 2, 0xc3, 0x28]],
    ["a wrong wire type", [0x10 | 2, 1, 7]],
    ["a truncated length", [0x0a, 5, 0x6b]],
    ["a truncated varint", [0x10, 0x80]],
    ["a group", [0x0b, 0x0c]],
    ["field 0", [0x00, 1]],
  ];
  for (const [what, bytes] of cases) {
    const buf = Uint8Array.from(bytes);
    assert.equal(c.decode(buf, 0, buf.length), undefined, what);
    let theirs: unknown, ours: unknown;
    try {
      theirs = plain(decode("GenerateKeyRequest", buf));
    } catch (err) {
      theirs = (err as Error).message;
    }
    try {
      ours = plain(decodeIn("GenerateKeyRequest", buf, 0, buf.length));
    } catch (err) {
      ours = (err as Error).message;
    }
    assert.deepEqual(ours, theirs, what);
  }
  // Values protobufjs converts (a string for bytes, a non-integer, a non-ASCII string) are encoded by protobufjs.
  for (const m of [{ plaintext: "AQI=" }, { version: 1.5 }, { version: -1 }, { ciphertext: [1, 2] }]) {
    assert.equal(codec("GenerateKeyResponse").size(m), -1, JSON.stringify(m));
  }
  assert.equal(codec("ErrResponse").size({ message: "naïve" }), -1);
});

test("a reply's frames in pieces are the frames joined, each piece at most FRAME_PIECE unless one frame is larger", () => {
  const r = rng(7);
  const msgs = Array.from({ length: 3000 }, () => randomMessage("GenerateKeyResponse", r));
  const big = { version: 1, plaintext: new Uint8Array(FRAME_PIECE + 10), ciphertext: new Uint8Array(3) };
  msgs.push(big, { message: "naïve" });
  const out = new FramePieces();
  msgs.forEach((m, i) => encodeFrame(out, i === msgs.length - 1 ? 1 : 207, i === msgs.length - 1 ? "ErrResponse" : "GenerateKeyResponse", m, msgs.length - i));
  const pieces = out.finish();
  assert.ok(Array.isArray(pieces) && pieces.length > 2);
  for (const p of pieces) assert.ok(p.length <= FRAME_PIECE || p.length === 6 + encode("GenerateKeyResponse", big).length, `a piece of ${p.length} bytes`);
  const whole = Buffer.concat(pieces as Uint8Array[]);
  const frames = parseFrames(whole, 10_000);
  assert.equal(frames.length, msgs.length);
  frames.forEach((f, i) => {
    const name = i === msgs.length - 1 ? "ErrResponse" : "GenerateKeyResponse";
    assert.ok(Buffer.from(f.payload).equals(encode(name, msgs[i])), `frame ${i}`);
  });
  // One frame: one piece, exactly its size.
  const one = new FramePieces();
  encodeFrame(one, 207, "GenerateKeyResponse", { version: 1, plaintext: new Uint8Array(32), ciphertext: new Uint8Array(92) }, 1);
  const single = one.finish();
  assert.ok(single instanceof Uint8Array && single.length === 6 + encode("GenerateKeyResponse", { version: 1, plaintext: new Uint8Array(32), ciphertext: new Uint8Array(92) }).length);
});
