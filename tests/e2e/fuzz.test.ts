/**
 * Seeded fuzzing of a live server process over real mTLS: hostile
 * native-protocol bodies (frame headers, protobuf payloads) and KES JSON
 * bodies from the generator lib/api/fuzz.test.ts runs 20,000 of in process.
 * No input may get a 5xx, hang, or log an internal error, and the server
 * must serve normally afterwards. A failure names its seed and input:
 * KMS_FUZZ_SEED=<seed> node_modules/.bin/bun test tests/e2e/fuzz.test.ts
 */
import assert from "node:assert/strict";
import https from "node:https";
import { after, describe, it } from "node:test";
import { framesOf, postNative } from "../helpers/e2e.ts";
import { type FuzzInput, fuzzInput, fuzzSeed } from "../support/fuzz.ts";
import { clientIdOf } from "../helpers/kes.ts";
import { cleanup, startServer } from "../helpers/kms.ts";

const INPUTS = 2_000;
const CONCURRENCY = 8;
const SEED = fuzzSeed();

describe("fuzzing a server process", () => {
  after(cleanup);

  it(`${INPUTS} hostile inputs: no 5xx, no hang, no internal error, a live server afterwards (seed ${SEED})`, async () => {
    const server = await startServer({ extraArgs: ["--kes-enclave", "fuzz"] });
    const c = server.client();
    await c.createEnclave("fuzz");
    await c.createKey("fuzz", "k");
    c.close();
    const admin = clientIdOf(server.apiKey);
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: server.ca, cert: admin.cert, key: admin.key, servername: "localhost" });
    const send = (input: FuzzInput) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request({
          host: "127.0.0.1", port: server.port, method: input.method, path: input.path, agent,
          headers: { ...input.headers, "content-length": String(input.body.length) }, timeout: 10_000,
        }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error("no reply within 10 s")));
        req.on("error", reject);
        req.end(input.body);
      });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < INPUTS) {
        const i = next++;
        const input = fuzzInput(SEED, i);
        const where = `input ${i} (${input.kind} ${input.method} ${input.path}) of seed ${SEED}: KMS_FUZZ_SEED=${SEED}`;
        const status = await send(input).catch((err) => assert.fail(`${where}: ${(err as Error).message}`));
        assert.ok(status >= 200 && status < 500, `${where}: HTTP ${status}`);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), INPUTS);
    assert.ok((statuses.get(400) ?? 0) > INPUTS / 4, `mostly rejected as bad input: ${JSON.stringify([...statuses])}`);

    // Alive and correct afterwards.
    const status = await postNative(server, "", framesOf([{ id: 3, request: "ClusterStatusRequest", message: {} }]));
    assert.equal(status.status, 200);
    assert.doesNotMatch(server.output(), /internal error|uncaught|unhandled/i, `seed ${SEED}`);
  });
});
