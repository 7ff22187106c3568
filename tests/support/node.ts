/**
 * A single-node cluster in this process over a real store, for in-process
 * tests of the API and the node (no listener: nothing leaves the process).
 */
import { Peers } from "../../lib/node/peers.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { newServerKey } from "../../lib/identity/x509.ts";
import type { Command } from "../../lib/state/commands.ts";
import { stateOf } from "../../lib/state/records.ts";
import type { Store } from "../../lib/store/store.ts";
import { NODE_SERVERNAME } from "../../lib/node/cluster-ca.ts";
import { newCredentials } from "../../lib/node/credentials.ts";
import { KmsNode } from "../../lib/node/node.ts";
import { NodeKeys, peerCredentials } from "../../lib/node/node-keys.ts";
import { loadOrBootstrap } from "../../lib/node/replication.ts";
import { configureHsmKey } from "../../lib/server/hsm-keys.ts";

/** Options of testNode. */
export interface TestNodeOptions {
  readonly adminIdentity?: string;
  readonly onFatal?: (err: unknown) => void;
  /** How long deletions are kept for recovery (default 0: erased at once). */
  readonly recoveryWindowMs?: number;
  /** The node's HSM key (default: a new one). */
  readonly hsm?: SoftHsm;
}

/** Starts a node over `store` that leads its own single-node cluster; stop it with `stopTestNode`. */
export async function testNode(store: Store, opts: TestNodeOptions = {}): Promise<KmsNode> {
  const records = await store.load();
  const node = new KmsNode(stateOf(records), store, {
    version: "test", host: "h:1", startedAt: Date.now(), adminIdentity: opts.adminIdentity ?? "h1:admin",
    tickMs: 5, electionTicks: 10, recoveryWindowMs: opts.recoveryWindowMs,
  });
  const hsm = opts.hsm ?? SoftHsm.parse(SoftHsm.generate());
  await configureHsmKey("test", node.state, store, hsm, 0);
  const loaded = await loadOrBootstrap(store, records, node.info.host, () => node.initialSnapshot());
  const keys = new NodeKeys(hsm, newCredentials(), newServerKey().export({ type: "pkcs8", format: "pem" }).toString(), ["127.0.0.1"]);
  const peers = new Peers<Command>(peerCredentials(keys.cluster), NODE_SERVERNAME);
  node.replicate(keys, peers, loaded, 0, opts.onFatal ?? ((err) => { throw err; }));
  const deadline = Date.now() + 5_000;
  // Leading, with its term's no-op applied: from then on nothing changes unless asked.
  const settled = () => {
    const st = node.status();
    return st.role === "leader" && st.lastIndex > 0 && st.applied === st.lastIndex && node.state.applied === st.lastIndex;
  };
  while (!settled()) {
    if (Date.now() > deadline) throw new Error("test node did not become leader");
    await new Promise((r) => setTimeout(r, 5));
  }
  return node;
}

/** Stops a node made by testNode. */
export async function stopTestNode(node: KmsNode): Promise<void> {
  await node.stop();
}
