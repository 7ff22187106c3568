/**
 * Node-to-node trust, both ways and against replay: nodes present
 * certificates from the cluster CA (derived from the HSM key) and accept no
 * other; a node does not send a byte of its request to a peer whose
 * certificate that CA did not issue; every call carries a fresh nonce, the
 * sender's clock and the cluster id, and a replayed, stale or unlabelled call
 * is refused. Clients trust every node with one file, DIR/ca.crt.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe } from "node:test";
import { envelope, RPC } from "../../lib/node/peers.ts";
import { openPayload, sealPayload } from "../../lib/node/seal.ts";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { apiKeyFromSeed, clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { newServerKey, selfSignedCertificate } from "../../lib/identity/x509.ts";
import { readClusterId } from "../../lib/server/admin-key.ts";
import { CA_FILE } from "../../lib/server/tls.ts";
import { clusterCa, issueNodeCertificate } from "../../lib/node/cluster-ca.ts";
import { type Cluster, reportingSteps, startCluster } from "../helpers/cluster.ts";
import { rawRequest } from "../helpers/e2e.ts";
import { cleanup, runKms } from "../helpers/kms.ts";

let cluster: Cluster;

/** A node certificate from the cluster's CA, as a node makes its own. */
function caIssued(): { key: string; cert: string } {
  const key = newServerKey();
  return { key: key.export({ type: "pkcs8", format: "pem" }).toString(), cert: issueNodeCertificate(clusterCa(SoftHsm.parse(cluster.hsmKey)), key, ["127.0.0.1"]) };
}

/** POSTs sealed bytes to node i's RPC `path` with `creds`. */
function post(i: number, path: string, creds: { key: string; cert: string }, body: Uint8Array) {
  const n = cluster.nodes[i];
  return rawRequest({ port: n.port, ca: n.ca, apiKey: cluster.apiKey }, {
    method: "POST", path, credentials: creds, body, headers: { "content-type": "application/octet-stream" }, timeoutMs: 10_000,
  });
}

const sealed = (value: unknown, path: string = RPC.status) => sealPayload(SoftHsm.parse(cluster.hsmKey), path, value);

describe("cluster: node certificates from the cluster CA, both ways; no replays", () => {
  const { step } = reportingSteps();
  before(async () => {
    cluster = await startCluster({ size: 2 });
  });
  after(async () => {
    await cluster?.close();
    await cleanup();
  });

  step("every node writes the same CA certificate, and a client trusting node 0's ca.crt alone reaches every node (no -k)", async () => {
    const cas = cluster.nodes.map((n) => readFileSync(path.join(n.dir, CA_FILE), "utf8"));
    assert.equal(cas[0], cas[1], "one CA per HSM key, byte for byte");
    assert.equal(cas[0], clusterCa(SoftHsm.parse(cluster.hsmKey)).cert);
    for (const i of [0, 1]) {
      const r = await runKms(["stat-enclave", "--json", "nope"], {
        MINIO_KMS_SERVER: cluster.nodes[i].address, MINIO_KMS_API_KEY: cluster.apiKey, KMS_CA: path.join(cluster.nodes[0].dir, CA_FILE),
      });
      assert.match(r.stderr, /enclave does not exist \(HTTP 404\)/, `node ${i} answered over verified TLS: ${r.stderr}`);
    }
  });

  step("positive control: a CA-issued certificate with a fresh envelope of this cluster is answered, sealed for this request", async () => {
    const env = envelope(readClusterId(cluster.nodes[0].dir), {});
    const r = await post(0, RPC.status, caIssued(), sealed(env));
    assert.equal(r.status, 200, r.body.toString());
    const reply = openPayload(SoftHsm.parse(cluster.hsmKey), `${RPC.status}#reply`, new Uint8Array(r.body)) as { nonce: string };
    assert.equal(reply.nonce, env.nonce);
  });

  step("a peer whose certificate the cluster CA did not issue is refused, even with the node key the HSM derived before the CA", async () => {
    const env = () => sealed(envelope(readClusterId(cluster.nodes[0].dir), {}));
    // Before the cluster CA, every node presented this self-signed certificate of an HSM-derived key.
    const legacy = clientCredentials(parseApiKey(apiKeyFromSeed(SoftHsm.parse(cluster.hsmKey).derive("node-api-key"))));
    const key = newServerKey();
    const selfSigned = { key: key.export({ type: "pkcs8", format: "pem" }).toString(), cert: selfSignedCertificate({ privateKey: key, commonName: "kms node", days: 1, purpose: "client" }) };
    for (const [what, creds] of [["the legacy node key", legacy], ["a self-signed certificate", selfSigned], ["the admin API key", clientCredentials(parseApiKey(cluster.apiKey))]] as const) {
      for (const i of [0, 1]) {
        const r = await post(i, RPC.status, creds, env());
        assert.equal(r.status, 403, `${what} on node ${i}: ${r.status} ${r.body.toString()}`);
      }
    }
  });

  step("a node sends nothing to a peer whose server certificate the cluster CA did not issue", async () => {
    // A listener that looks like a node but holds a self-signed certificate; it counts what arrives after a handshake.
    const key = newServerKey();
    const cert = selfSignedCertificate({ privateKey: key, commonName: "kms-node", dnsNames: ["kms-node"], ipAddresses: ["127.0.0.1"], days: 1, purpose: "server" });
    let handshakes = 0, bytes = 0;
    const fake = tls.createServer({ key: key.export({ type: "pkcs8", format: "pem" }).toString(), cert, requestCert: true, rejectUnauthorized: false }, (socket) => {
      handshakes++;
      socket.on("data", (d: Buffer) => (bytes += d.length));
      socket.on("error", () => {});
    });
    fake.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    try {
      const host = `127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const r = await cluster.cli(["add", host], 0);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /certificate is not from this cluster's CA/, r.stderr);
      assert.equal(bytes, 0, `the node sent ${bytes} bytes of its join call to an unverified peer`);
      assert.equal(handshakes, 0, "the node aborted the handshake");
      assert.equal(await cluster.converged(), true, "the cluster is unchanged");
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });

  step("a replayed call is refused; so are a stale one and one without the cluster id", async () => {
    const creds = caIssued();
    const id = readClusterId(cluster.nodes[1].dir);
    assert.equal(id, readClusterId(cluster.nodes[0].dir), "the joined node belongs to node 0's cluster");
    const once = sealed(envelope(id, {}));
    assert.equal((await post(1, RPC.status, creds, once)).status, 200);
    const again = await post(1, RPC.status, creds, once);
    assert.equal(again.status, 403);
    assert.match(JSON.parse(again.body.toString()).message, /replay/);
    // A write replayed would be worse: the same holds for every path, forward included.
    const fwd = sealed(envelope(id, { cmd: { type: "enclave.create", name: "replayed", at: Date.now(), by: "h1:" + "A".repeat(43) } }), RPC.forward);
    assert.equal((await post(0, RPC.forward, creds, fwd)).status, 200);
    assert.equal((await post(0, RPC.forward, creds, fwd)).status, 403);
    const stale = sealed({ ...envelope(id, {}), at: Date.now() - 10 * 60_000 });
    const s = await post(1, RPC.status, creds, stale);
    assert.equal(s.status, 403);
    assert.match(JSON.parse(s.body.toString()).message, /clock/);
    const { cluster: _, ...unlabelled } = envelope(id, {});
    assert.equal((await post(1, RPC.status, creds, sealed(unlabelled))).status, 403, "a call without the cluster id");
    const other = await post(1, RPC.status, creds, sealed(envelope("0".repeat(32), {})));
    assert.equal(other.status, 200, "another cluster's call is answered sealed");
    const err = openPayload(SoftHsm.parse(cluster.hsmKey), `${RPC.status}#reply`, new Uint8Array(other.body)) as { error?: { status: number } };
    assert.equal(err.error?.status, 409, "…with an error: this node belongs to another cluster");
    assert.equal(await cluster.converged(), true);
  });
});
