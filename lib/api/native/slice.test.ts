/**
 * A long pipelined request takes turns with the rest of the event loop
 * (slice.ts): while it runs, other callbacks (another connection's reads)
 * get the thread, and a change made in a pause holds for the frames after it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { newApiKey, parseApiKey } from "../../identity/apikey.ts";
import { ADMIN, frame, frames, type TestKms, unframe, withKms } from "../../../tests/support/app.ts";
import { createRawRoute } from "../app.ts";
import { replyBytes } from "../../net/serve.ts";
import { decode } from "../../wire/proto.ts";

/** Turns of the event loop that ran while `work` was pending. */
async function turnsDuring(work: Promise<unknown>): Promise<number> {
  let turns = 0, done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await work;
  done = true;
  return turns;
}

test("a 10,000-frame request gives the event loop turns while it runs, and answers every frame", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k1" });
    const batch = kms.batch("e1", Array.from({ length: 10_000 }, () => frame(207, { name: "k1" })));
    const turns = await turnsDuring(batch);
    assert.equal((await batch).length, 10_000);
    // Without slices the whole request runs in one turn (its awaits are microtasks).
    assert.ok(turns >= 2, `the event loop turned ${turns} times during the request`);
  });
});

/**
 * Sends a 10,000-frame GENERATE batch on `key` (as `identity`), waits `turns(attempt)` turns of the
 * event loop, then makes `change`; the machine decides whether the change lands while the batch
 * still runs, so it tries up to five times. Gives the statuses of the batches it overlapped.
 */
async function changeDuringBatch(
  kms: TestKms, key: (attempt: number) => Promise<string>, change: (key: string) => Promise<unknown>,
  opts: { identity?: string; turns: (attempt: number) => number },
): Promise<number[]> {
  const overlapped: number[] = [];
  for (let attempt = 0; attempt < 5 && overlapped.length === 0; attempt++) {
    const name = await key(attempt);
    let settled = false;
    const res = kms.send("e1", Array.from({ length: 10_000 }, () => frame(207, { name })), { identity: opts.identity }).finally(() => settled = true);
    for (let turn = 0; turn < opts.turns(attempt) && !settled; turn++) await new Promise((r) => setImmediate(r));
    await change(name);
    const during = !settled;
    const reply = await res;
    if (during) overlapped.push(reply.status);
  }
  return overlapped;
}

test("a key deleted during a pause of a long request is not used by the frames after it", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    // A deletion acknowledged while the batch is still running must fail the frames after it.
    const statuses = await changeDuringBatch(kms, async (attempt) => {
      await kms.call("e1", 201, { name: `k${attempt}` });
      return `k${attempt}`;
    }, (key) => kms.call("e1", 202, { name: key }, { identity: ADMIN }), { turns: () => 1 }); // the request's first pause
    assert.ok(statuses.length > 0, "a deletion was acknowledged while a batch ran");
    // The frames after the deletion find no key, so the batch fails as a whole.
    assert.deepEqual(statuses, [404]);
  });
});

test("a policy revoked while a long request runs its frames denies the frames after it", async () => {
  await withKms(async (kms) => {
    const user = parseApiKey(newApiKey()).identity;
    const stamp = { at: Date.now(), by: "test" };
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k1" });
    await kms.node.write({ type: "policy.create", enclave: "e1", name: "gen", allow: { "KEY:GENERATE": ["*"] }, deny: {}, ...stamp });
    await kms.node.write({ type: "policy.create", enclave: "e1", name: "status", allow: { "KEY:STATUS": ["*"] }, deny: {}, ...stamp });
    await kms.node.write({ type: "identity.create", enclave: "e1", identity: user, privilege: "User", policy: "gen", serviceAccount: false, tags: {}, ...stamp });
    const statuses = await changeDuringBatch(kms, async () => {
      await kms.node.write({ type: "policy.assign", enclave: "e1", identity: user, policy: "gen" });
      return "k1";
    }, () => kms.node.write({ type: "policy.assign", enclave: "e1", identity: user, policy: "status" }), {
      identity: user,
      // Past the decoding's pauses into the running's (a change before them is caught at the read barrier).
      turns: (attempt) => 20 * (attempt + 1),
    });
    assert.ok(statuses.length > 0, "a revocation was applied while a batch ran");
    // The frames after the revocation are denied, so the batch fails as a whole.
    assert.deepEqual(statuses, [403]);
  });
});

test("a 10,000-frame reply is made in pieces over turns of the event loop, never joined in one", async () => {
  await withKms(async (kms) => {
    await kms.call("", 101, { name: "e1" });
    await kms.call("e1", 201, { name: "k1" });
    const route = createRawRoute({ node: kms.node });
    const body = frames(Array.from({ length: 10_000 }, () => frame(207, { name: "k1", associated_data: new Uint8Array(60).fill(1) })));
    const x = route.begin("e1", { method: "POST", path: "/v1/kms/e1", headers: { "content-length": String(body.length) }, peer: { identity: ADMIN, certificate: undefined }, ip: undefined });
    // Bytes copied into arrays in each turn of the event loop while the request runs: the work of a turn, in bytes.
    const perTurn = [0];
    let done = false;
    const tick = () => {
      if (done) return;
      perTurn.push(0);
      setImmediate(tick);
    };
    const proto = Uint8Array.prototype as { set: (src: ArrayLike<number>, at?: number) => void };
    const set = proto.set;
    proto.set = function (this: Uint8Array, src: ArrayLike<number>, at?: number) {
      perTurn[perTurn.length - 1] += src.length;
      return set.call(this, src, at);
    };
    let reply;
    try {
      setImmediate(tick);
      reply = x.end(await x.handle(() => Promise.resolve(body)));
    } finally {
      done = true;
      proto.set = set;
    }
    assert.equal(reply.status, 200);
    const whole = replyBytes(reply.body);
    assert.equal(reply.headers["content-length"], String(whole.length));
    const replies = unframe(whole);
    assert.equal(replies.length, 10_000);
    assert.ok(replies.every((r) => r.id === 207 && (decode("GenerateKeyResponse", r.payload).plaintext as Uint8Array).length === 32));
    // Joined in one turn, the reply alone would be a turn's copy of all its bytes.
    const most = Math.max(...perTurn);
    assert.ok(most < whole.length / 2, `one turn copied ${most} bytes of a ${whole.length}-byte reply (turns: ${perTurn.length})`);
  });
});
