/**
 * A node with a different HSM key is refused: at `add` (non-zero exit, a clear
 * message, the cluster unchanged and still writable), it cannot add a node of
 * the cluster's HSM key to its own cluster either ("nor be joined"), and every
 * node-to-node RPC it makes with its own client certificate (issued by its
 * own HSM key's CA) is refused with 403, as are calls with the admin's
 * certificate or with payloads sealed under another HSM key. A positive
 * control proves the test holds the right credentials: a certificate from the
 * cluster's CA with a correctly sealed payload is answered.
 *
 * Node certificates are issued like the server does (lib/server/tls.ts); the
 * positive control fails loudly if that changes.
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { envelope, RPC } from "../../lib/node/peers.ts";
import { openPayload, sealPayload } from "../../lib/node/seal.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { newServerKey } from "../../lib/identity/x509.ts";
import { readClusterId } from "../../lib/server/admin-key.ts";
import { clusterCa, issueNodeCertificate } from "../../lib/node/cluster-ca.ts";
import { type Cluster, reportingSteps, startCluster } from "../helpers/cluster.ts";
import { rawRequest } from "../helpers/e2e.ts";
import { cleanup } from "../helpers/kms.ts";

const OTHER = SoftHsm.generate();
let cluster: Cluster;

/** A node certificate (and its key) from the CA that holders of this HSM key derive. */
function nodeCredentials(hsmKey: string) {
  const key = newServerKey();
  return { key: key.export({ type: "pkcs8", format: "pem" }).toString(), cert: issueNodeCertificate(clusterCa(SoftHsm.parse(hsmKey)), key, ["127.0.0.1"]) };
}

let lastNonce = "";

/** POSTs a node RPC to node i with the given credentials and a fresh envelope from node i's cluster, sealed under sealKey. */
function rpc(i: number, path: string, creds: { cert: string; key: string }, sealKey: string, body: unknown = {}) {
  const n = cluster.nodes[i];
  const sealed = envelope(readClusterId(n.dir), body);
  lastNonce = sealed.nonce;
  return rawRequest({ port: n.port, ca: n.ca, apiKey: cluster.apiKey }, {
    method: "POST",
    path,
    credentials: creds,
    body: sealPayload(SoftHsm.parse(sealKey), path, sealed),
    headers: { "content-type": "application/octet-stream" },
    timeoutMs: 10_000,
  });
}

/** Every RPC path with a plausible body. */
const CALLS: Array<[string, unknown]> = [
  [RPC.raft, { from: "127.0.0.1:1", messages: [{ type: "vote", cluster: "x", from: 9, to: 0, term: 99, pre: false, lastIndex: 1_000_000, lastTerm: 99, markers: [] }] }],
  [RPC.forward, { cmd: { type: "enclave.create", name: "intruder" } }],
  [RPC.join, { cluster: "0".repeat(32), id: 7 }],
  [RPC.status, {}],
  [RPC.edit, { remove: [0, 1] }],
];

describe("cluster: a node with another HSM key is refused", () => {
  const { step, failed } = reportingSteps();
  before(async () => {
    // Nodes 0 and 1 form the cluster; node 2 has another HSM key; node 3 is fresh with the cluster's key.
    cluster = await startCluster({ size: 4, members: 2, hsmKeys: { 2: OTHER } });
    await cluster.client(0).createEnclave("e");
    await cluster.client(0).createKey("e", "k");
    await cluster.waitConverged();
  });
  after(async () => {
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });


  step("`kms add` of the node with another HSM key fails with a clear message, through the leader and through a follower", async () => {
    for (const via of [0, 1]) {
      const t0 = performance.now();
      const r = await cluster.cli(["add", cluster.nodes[2].advertise], via);
      const ms = performance.now() - t0;
      console.log(`kms add (other HSM key) via node ${via}: exit ${r.code} after ${ms.toFixed(0)} ms: ${r.stderr.trim()}`);
      assert.notEqual(r.code, 0, `add must fail: ${r.stdout}`);
      assert.match(r.stderr, /HSM key/i, "the message names the cause");
      assert.ok(ms < 10_000, "refused promptly");
    }
    // Over the protocol: a 4xx, not a 503 (retrying cannot help).
    await assert.rejects(cluster.client(0).addNode(cluster.nodes[2].advertise), (e: Error & { status?: number }) => {
      assert.ok(e.status !== undefined && e.status >= 400 && e.status < 500, `status ${e.status}: ${e.message}`);
      return true;
    });
  });

  step("the cluster is unchanged and still writable; the refused node holds none of its state", async () => {
    assert.equal(await cluster.converged([0, 1]), true);
    const s = await cluster.status(0);
    assert.deepEqual(Object.values(s.nodes_up).map((n) => n.host).sort(), [cluster.nodes[0].advertise, cluster.nodes[1].advertise].sort());
    await cluster.client(1).createKey("e", "after-refusal");
    await cluster.waitConverged([0, 1]);
    await cluster.assertSameState([0, 1]);
    const other = await cluster.status(2);
    assert.deepEqual(Object.values(other.nodes_up).map((n) => n.host), [cluster.nodes[2].advertise], "node 2 is still alone");
    assert.deepEqual((await cluster.stateHash(2)).state, {}, "node 2 received nothing");
  });

  step("the node with another HSM key cannot pull a node with the cluster's key into its own cluster", async () => {
    const r = await cluster.cli(["add", cluster.nodes[3].advertise], 2);
    console.log(`kms add via the other-HSM node of a fresh cluster-key node: exit ${r.code}: ${r.stderr.trim()}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /HSM key/i);
    // Node 3 is still fresh: the cluster can add it (positive control), and it gets the cluster's state.
    await cluster.join(3, 0);
    await cluster.waitConverged();
    await cluster.assertSameState([0, 1, 3]);
  });

  step("positive control: the cluster's node identity with a payload sealed under the cluster's key is answered", async () => {
    const r = await rpc(0, RPC.status, nodeCredentials(cluster.hsmKey), cluster.hsmKey);
    assert.equal(r.status, 200, r.body.toString());
    const reply = openPayload(SoftHsm.parse(cluster.hsmKey), `${RPC.status}#reply`, new Uint8Array(r.body)) as { nonce: string; ok: { host: string } };
    assert.equal(reply.nonce, lastNonce, "the reply answers this very request");
    assert.equal(reply.ok.host, cluster.nodes[0].advertise);
  });

  step("every RPC from the node with another HSM key (its own certificate, its own sealing) is refused with 403, on every member", async () => {
    const before = await cluster.assertSameState([0, 1, 3]);
    for (const i of [0, 1, 3]) {
      for (const [path, body] of CALLS) {
        const r = await rpc(i, path, nodeCredentials(OTHER), OTHER, body);
        assert.equal(r.status, 403, `${path} on node ${i}: ${r.status} ${r.body.toString()}`);
      }
    }
    assert.equal(await cluster.assertSameState([0, 1, 3]), before, "nothing changed");
    assert.equal(await cluster.converged(), true, "the cluster was not disturbed (no vote, no edit)");
  });

  step("the cluster's certificate with a payload sealed under another key, the other certificate with the cluster's sealing, and the admin's certificate are all refused", async () => {
    for (const [path, body] of CALLS) {
      const a = await rpc(0, path, nodeCredentials(cluster.hsmKey), OTHER, body);
      assert.equal(a.status, 403, `${path}, right certificate, wrong seal: ${a.status}`);
      const b = await rpc(0, path, nodeCredentials(OTHER), cluster.hsmKey, body);
      assert.equal(b.status, 403, `${path}, wrong certificate, right seal: ${b.status}`);
      const c = await rpc(0, path, clientCredentials(parseApiKey(cluster.apiKey)), cluster.hsmKey, body);
      assert.equal(c.status, 403, `${path}, the admin's certificate: ${c.status}`);
    }
  });

  step("and the other way round: the cluster's node identity is refused by the node with another HSM key", async () => {
    for (const [path, body] of CALLS) {
      const r = await rpc(2, path, nodeCredentials(cluster.hsmKey), cluster.hsmKey, body);
      assert.equal(r.status, 403, `${path} on node 2: ${r.status}`);
    }
    assert.deepEqual((await cluster.stateHash(2)).state, {});
  });
});
