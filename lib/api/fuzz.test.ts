/**
 * Seeded fuzzing of the native frame and protobuf decoders and the KES JSON
 * bodies, in process against a real node and store: 20,000 hostile inputs,
 * none may get a 5xx, hang or log an internal error, and the node still
 * answers afterwards. A failure names its seed and input; reproduce with
 * KMS_FUZZ_SEED=<seed> node_modules/.bin/bun test lib/api/fuzz.test.ts
 * (tests/e2e/fuzz.test.ts sends the same kind of inputs over mTLS to a server process).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { createApp } from "./app.ts";
import { ADMIN, frame, TestKms } from "../../tests/support/app.ts";
import { fuzzInput, fuzzSeed } from "../../tests/support/fuzz.ts";

const INPUTS = 20_000;
const SEED = fuzzSeed();

it(`${INPUTS} hostile native and KES bodies: no 5xx, no hang, no internal error (seed ${SEED})`, async () => {
  const kms = await TestKms.open();
  const logged: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(" "));
  try {
    await kms.batch("", [frame(101, { name: "fuzz" })]);
    await kms.batch("fuzz", [frame(201, { name: "k" })]);
    const app = createApp({ node: kms.node, kesEnclave: "fuzz" });
    const statuses = new Map<number, number>();
    for (let i = 0; i < INPUTS; i++) {
      const input = fuzzInput(SEED, i);
      const where = `input ${i} (${input.kind} ${input.method} ${input.path}) of seed ${SEED}: KMS_FUZZ_SEED=${SEED}`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const res = await Promise.race([
        Promise.resolve(app.request(input.path, { method: input.method, body: input.body as Uint8Array<ArrayBuffer>, headers: input.headers }, { identity: ADMIN })),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${where}: no reply within 5 s`)), 5_000))),
      ]);
      clearTimeout(timer);
      await res.arrayBuffer();
      assert.ok(res.status >= 200 && res.status < 500, `${where}: HTTP ${res.status}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    assert.ok((statuses.get(400) ?? 0) > INPUTS / 4, `mostly rejected as bad input: ${JSON.stringify([...statuses])}`);
    assert.deepEqual(logged.filter((l) => /internal error|failed/i.test(l)), [], `seed ${SEED}`);
    // Still answering, with the key intact.
    assert.equal((await kms.batch("fuzz", [frame(204, { name: "k" })]))[0].name, "k");
    assert.deepEqual(kms.fatal, []);
  } finally {
    console.error = error;
    await kms.close();
  }
});
