/**
 * A connection's caller is resolved once and reused while nothing is
 * applied (caller-memo.ts); any applied change to the caller's identity or
 * policy must hold from the very next request on the same connection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientCredentials, newApiKey, parseApiKey } from "../../identity/apikey.ts";
import { newServerCertificate } from "../../identity/x509.ts";
import { SoftHsm } from "../../hsm/soft.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { randomBytes } from "../../crypto/random.ts";
import { serveTls } from "../../net/serve.ts";
import { openStore } from "../../store/store.ts";
import { createApp, createRawRoute } from "../app.ts";
import type { AppDeps } from "../deps.ts";
import type { NodeOps } from "../ops.ts";
import { CallerMemo } from "./caller-memo.ts";
import { type Decoded, execute, validated } from "./execute.ts";
import { decode } from "../../wire/proto.ts";
import { COMMANDS } from "./commands.ts";
import { frame, frames } from "../../../tests/support/app.ts";
import { stopTestNode, testNode } from "../../../tests/support/node.ts";
import type { KmsNode } from "../../node/node.ts";

const stamp = () => ({ at: Date.now(), by: "test" });

async function withNode(fn: (node: KmsNode, admin: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kms-memo-"));
  const admin = parseApiKey(newApiKey());
  const store = await openStore(join(dir, "data"), SoftHsm.parse(SoftHsm.generate()));
  const node = await testNode(store, { adminIdentity: admin.identity });
  try {
    await node.write({ type: "enclave.create", name: "e1", ...stamp() });
    await node.write({ type: "key.create", enclave: "e1", name: "k1", keyType: "AES256", material: encodeBase64(randomBytes(32)), addVersion: false, ...stamp() });
    await node.write({ type: "policy.create", enclave: "e1", name: "gen", allow: { "KEY:GENERATE": ["*"] }, deny: {}, ...stamp() });
    await node.write({ type: "policy.create", enclave: "e1", name: "status", allow: { "KEY:STATUS": ["*"] }, deny: {}, ...stamp() });
    await fn(node, admin.identity);
  } finally {
    await stopTestNode(node);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test("execute resolves a connection's caller once while nothing is applied, and again after a write", async () => {
  await withNode(async (node, admin) => {
    const spec = COMMANDS.get(207)!;
    const generate = async (): Promise<Decoded[]> => [validated(spec, decode(spec.request, frame(207, { name: "k1" }).payload))];
    const memo = new CallerMemo();
    for (let i = 0; i < 3; i++) await execute(node, admin, "e1", generate, undefined, memo);
    assert.equal(memo.resolved, 1, "three requests, one resolution");
    await node.write({ type: "policy.create", enclave: "e1", name: "other", allow: {}, deny: {}, ...stamp() });
    await execute(node, admin, "e1", generate, undefined, memo);
    assert.equal(memo.resolved, 2, "an applied entry makes the memo stale");
    await execute(node, admin, "", async () => [], undefined, memo).catch(() => {});
    assert.equal(memo.resolved, 3, "another enclave is resolved on its own");
  });
});

test("a revoked policy or identity is refused on its very next request on the same connection", async () => {
  await withNode(async (node) => {
    const user = parseApiKey(newApiKey());
    await node.write({ type: "identity.create", enclave: "e1", identity: user.identity, privilege: "User", policy: "gen", serviceAccount: false, tags: {}, ...stamp() });
    const ops = { metrics: undefined, audit: undefined, feeds: undefined, connections: () => 0 } as unknown as NodeOps;
    const deps: AppDeps = { node, ops, console: false };
    const server = newServerCertificate(["127.0.0.1", "localhost"]);
    const listener = await serveTls(createApp(deps), { ...server, hostname: "127.0.0.1", port: 0 }, createRawRoute(deps));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const body = frames([frame(207, { name: "k1", associated_data: new Uint8Array(0), length: 32 })]);
    const ports = new Set<number>();
    const generate = () => new Promise<number>((resolve, reject) => {
      const req = https.request({
        host: "127.0.0.1", port: listener.port, path: "/v1/kms/e1", method: "POST", ca: server.cert, ...clientCredentials(user), agent, servername: "localhost",
        headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
      }, (res) => {
        ports.add(res.socket.localPort!);
        res.resume().on("end", () => resolve(res.statusCode!));
      });
      req.on("error", reject);
      req.end(body);
    });
    try {
      assert.equal(await generate(), 200);
      assert.equal(await generate(), 200);
      await node.write({ type: "policy.assign", enclave: "e1", identity: user.identity, policy: "status" });
      assert.equal(await generate(), 403, "the policy no longer allows KEY:GENERATE");
      await node.write({ type: "policy.assign", enclave: "e1", identity: user.identity, policy: "gen" });
      assert.equal(await generate(), 200, "allowed again");
      await node.write({ type: "policy.create", enclave: "e1", name: "gen", allow: { "KEY:GENERATE": ["*"] }, deny: { "KEY:GENERATE": ["k1"] }, ...stamp() });
      assert.equal(await generate(), 403, "the policy was edited to deny k1");
      await node.write({ type: "policy.assign", enclave: "e1", identity: user.identity, policy: "status" });
      await node.write({ type: "policy.create", enclave: "e1", name: "gen2", allow: { "KEY:GENERATE": ["*"] }, deny: {}, ...stamp() });
      await node.write({ type: "policy.assign", enclave: "e1", identity: user.identity, policy: "gen2" });
      assert.equal(await generate(), 200);
      await node.write({ type: "identity.delete", enclave: "e1", identity: user.identity });
      assert.equal(await generate(), 403, "the identity was deleted");
      assert.equal(ports.size, 1, "every request went over one connection");
    } finally {
      agent.destroy();
      await listener.close(100);
    }
  });
});
