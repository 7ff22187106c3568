/**
 * Messages read where they lie in a request body and replies written into
 * pieces: the same bytes and objects as protobufjs's decode and encode of
 * each message on its own (the wire contract with MinIO's client).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decode, decodeIn, encode, encodeFrame, InvalidMessageError, messageType } from "./proto.ts";
import { FramePieces, FRAME_PIECE, parseFrames } from "./frames.ts";

const TYPES = [
  "GenerateKeyRequest", "GenerateKeyResponse", "EncryptRequest", "EncryptResponse", "DecryptRequest", "DecryptResponse",
  "MACRequest", "MACResponse", "DeriveKeyRequest", "DeriveKeyResponse", "KeyStatusRequest", "ListRequest", "ErrResponse",
];

/** A seeded generator, so a failure repeats. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000);
}

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

test("a message read where it lies in a body is what decode gives for it alone", () => {
  const r = rng(3);
  for (const name of TYPES) {
    for (let n = 0; n < 50; n++) {
      const bytes = encode(name, randomMessage(name, r));
      const before = Uint8Array.from({ length: Math.floor(r() * 9) }, () => 0xff), after = Uint8Array.from({ length: Math.floor(r() * 9) }, () => 0x0a);
      const body = Buffer.concat([before, bytes, after]);
      assert.deepEqual(plain(decodeIn(name, body, before.length, before.length + bytes.length)), plain(decode(name, bytes)), name);
    }
  }
});

test("a field running past the end of its frame is refused, not read from the next frame", () => {
  const id = (type: string) => messageType("GenerateKeyRequest").fieldsArray.find((f) => f.type === type)!.id;
  const overruns = [
    Uint8Array.from([(id("bytes") << 3) | 2, 10, 1, 2, 3]), // associated_data claims 10 bytes; the frame holds 3
    Uint8Array.from([(id("uint32") << 3) | 0, 0x80]), // a varint whose last byte says "more"
    Uint8Array.from([(9 << 3) | 5, 1]), // an unknown fixed32 field cut short
  ];
  for (const message of overruns) {
    const body = Buffer.concat([message, Uint8Array.from([4, 5, 6, 7, 8, 9, 10, 11])]);
    assert.throws(() => decodeIn("GenerateKeyRequest", body, 0, message.length), InvalidMessageError, `${[...message]}`);
    assert.throws(() => decode("GenerateKeyRequest", message), InvalidMessageError);
  }
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
