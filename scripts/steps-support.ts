/**
 * What scripts/single-steps.ts and scripts/frame-steps.ts share: a real node
 * over a real store with the audit trail and the metrics on as a server
 * starts them, its native raw route called directly (no network), and the
 * median CPU cost of a call.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newApiKey, parseApiKey } from "../lib/identity/apikey.ts";
import { SoftHsm } from "../lib/hsm/soft.ts";
import { openStore } from "../lib/store/store.ts";
import { watchNode } from "../lib/server/watch.ts";
import { createRawRoute } from "../lib/api/app.ts";
import type { KmsNode } from "../lib/node/node.ts";
import { type RawReply, type RawRequest, type RawRoute, replyBytes } from "../lib/net/serve.ts";
import { stopTestNode, testNode } from "../tests/support/node.ts";

/** Median over `rounds` rounds of µs of process CPU per call of `fn` (`calls` a round), divided by `units` (frames a call): CPU, not wall time, on a shared machine. */
export async function cpuPerCall(fn: () => unknown, calls: number, rounds: number, units = 1): Promise<number> {
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const x = fn();
      if (x instanceof Promise) await x;
    }
    const t = process.cpuUsage(t0);
    per.push((t.user + t.system) / calls / units);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1];
}

/** An observed node and its raw route, as a server runs them. */
export interface StepsNode {
  readonly node: KmsNode;
  readonly admin: string;
  readonly watching: Awaited<ReturnType<typeof watchNode>>;
  readonly route: RawRoute;
  /** POSTs `body` to `path` through `route` (default: the observed one) as the admin; throws unless 200. */
  run(path: string, body: Uint8Array, route?: RawRoute): Promise<RawReply>;
  close(): Promise<void>;
}

/** Starts a node in a temporary directory (removed by close()). */
export async function stepsNode(prefix: string): Promise<StepsNode> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const admin = parseApiKey(newApiKey()).identity;
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const store = await openStore(join(dir, "data"), hsm);
  const node = await testNode(store, { adminIdentity: admin, hsm });
  const watching = await watchNode(node, hsm, { dir }, () => undefined);
  const route = createRawRoute({ node, ops: watching.ops, console: false });
  const peer = { identity: admin, certificate: undefined };
  return {
    node, admin, watching, route,
    async run(path, body, r = route) {
      const req: RawRequest = { method: "POST", path, headers: { "content-length": String(body.length), accept: "application/octet-stream" }, peer, ip: "127.0.0.1" };
      const x = r.begin(r.match("POST", path)!, req);
      const reply = x.end(await x.handle(() => Promise.resolve(body)));
      if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${new TextDecoder().decode(replyBytes(reply.body))}`);
      return reply;
    },
    async close() {
      await watching.close(true);
      await stopTestNode(node);
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
