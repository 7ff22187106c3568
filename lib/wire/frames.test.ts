import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFrames, type Frame, FrameError, parseFrames } from "./frames.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
/** The frames as plain values, so Buffer/Uint8Array views compare by content. */
const plain = (frames: Frame[]) => frames.map((f) => ({ id: f.id, payload: [...f.payload] }));

test("encodeFrames writes id (uint16 BE), length (uint32 BE) and payload, frame after frame", () => {
  const body = encodeFrames([
    { id: 0x0102, payload: bytes(0xaa, 0xbb) },
    { id: 207, payload: bytes() },
    { id: 0xffff, payload: bytes(7) },
  ]);
  assert.deepEqual(
    [...body],
    [0x01, 0x02, 0, 0, 0, 2, 0xaa, 0xbb, 0, 207, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1, 7],
  );
});

test("parseFrames ∘ encodeFrames is the identity, ids and payloads in order", () => {
  const big = new Uint8Array(70_000).map((_, i) => i % 251);
  const frames: Frame[] = [
    { id: 101, payload: bytes(10, 2, 101, 49) },
    { id: 0, payload: bytes(1) },
    { id: 65535, payload: big },
    { id: 207, payload: bytes(3, 3, 3) },
  ];
  const parsed = parseFrames(encodeFrames(frames), 10);
  assert.deepEqual(plain(parsed), plain(frames));
});

test("frames with zero-length payloads parse, alone and mixed with others", () => {
  assert.deepEqual(plain(parseFrames(bytes(0, 3, 0, 0, 0, 0), 10)), [{ id: 3, payload: [] }]);
  const frames: Frame[] = [
    { id: 3, payload: bytes() },
    { id: 3, payload: bytes() },
    { id: 204, payload: bytes(1, 2) },
    { id: 3, payload: bytes() },
  ];
  assert.deepEqual(plain(parseFrames(encodeFrames(frames), 10)), plain(frames));
});

test("parseFrames reads a body that is a view into a larger buffer", () => {
  const inner = encodeFrames([{ id: 513, payload: bytes(9, 8, 7) }, { id: 2, payload: bytes(1) }]);
  const outer = new Uint8Array(inner.length + 7).fill(0xee);
  outer.set(inner, 3);
  const view = outer.subarray(3, 3 + inner.length);
  assert.deepEqual(plain(parseFrames(view, 10)), [{ id: 513, payload: [9, 8, 7] }, { id: 2, payload: [1] }]);
});

test("an empty body is refused", () => {
  assert.throws(() => parseFrames(bytes(), 10), (e: unknown) => e instanceof FrameError && /empty/.test(e.message));
});

test("a truncated header is refused: alone, or after a complete frame", () => {
  for (const body of [bytes(0), bytes(0, 3), bytes(0, 3, 0, 0, 0), [...encodeFrames([{ id: 3, payload: bytes(1) }]), 0, 3, 0]]) {
    assert.throws(() => parseFrames(Uint8Array.from(body), 10), (e: unknown) => e instanceof FrameError && /truncated/.test(e.message), `${[...body]}`);
  }
});

test("a length beyond the body is refused", () => {
  assert.throws(() => parseFrames(bytes(0, 3, 0, 0, 0, 2, 1), 10), (e: unknown) => e instanceof FrameError && /exceeds/.test(e.message));
  // A length near 2^32 must not wrap around.
  assert.throws(() => parseFrames(bytes(0, 3, 0xff, 0xff, 0xff, 0xff, 1, 2, 3), 10), FrameError);
  // The second frame is the short one.
  const body = Uint8Array.from([...encodeFrames([{ id: 1, payload: bytes(5) }]), 0, 1, 0, 0, 0, 9, 1, 2]);
  assert.throws(() => parseFrames(body, 10), FrameError);
});

test("more than maxFrames frames are refused; exactly maxFrames parse", () => {
  const frames = (n: number) => encodeFrames(Array.from({ length: n }, (_, i) => ({ id: i, payload: bytes(i) })));
  assert.equal(parseFrames(frames(3), 3).length, 3);
  assert.throws(() => parseFrames(frames(4), 3), (e: unknown) => e instanceof FrameError && /more than 3 frames/.test(e.message));
  // Zero-length frames count too: they must not slip past the limit.
  const empties = encodeFrames(Array.from({ length: 1001 }, () => ({ id: 3, payload: bytes() })));
  assert.throws(() => parseFrames(empties, 1000), FrameError);
  assert.equal(parseFrames(empties, 1001).length, 1001);
});

test("FrameError messages are client-facing 'invalid request' texts", () => {
  for (const body of [bytes(), bytes(0), bytes(0, 1, 0, 0, 0, 1)]) {
    try {
      parseFrames(body, 1);
      assert.fail("must throw");
    } catch (e) {
      assert.ok(e instanceof FrameError);
      assert.match((e as Error).message, /^invalid request: /);
    }
  }
});

test("encoded frames are a Buffer of their own, which a socket write takes without wrapping it", () => {
  const body = encodeFrames([{ id: 207, payload: new Uint8Array([1, 2, 3]) }, { id: 1, payload: new Uint8Array() }]);
  assert.ok(Buffer.isBuffer(body));
  assert.equal(body.byteOffset, 0, "not a slice of a shared pool");
  assert.deepEqual([...body], [0, 207, 0, 0, 0, 3, 1, 2, 3, 0, 1, 0, 0, 0, 0]);
});
