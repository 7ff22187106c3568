/**
 * Adding and removing nodes while a read and crypto load runs against the
 * other nodes causes no failed read: a 3-node cluster grows by a node added
 * through the leader and one added through a follower, then loses a follower
 * and the leader itself, while concurrent clients keep asking every node not
 * being changed for key status, encryption, decryption, data keys and MACs
 * (results checked: MACs and decryptions must match what node 0 gave before).
 * Joined nodes join the load once their add returned. Afterwards the members
 * agree, hold identical state, are writable, and the removed nodes no longer
 * serve.
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import type { KmsClient } from "../../lib/client/client.ts";
import { Prng } from "../../lib/cluster/prng.ts";
import { type Cluster, reportingSteps, startCluster, until } from "../helpers/cluster.ts";
import { cleanup } from "../helpers/kms.ts";

const ENCLAVE = "m";
const KEYS = [["r0", "AES256"], ["r1", "ChaCha20"], ["r2", "AES256"]] as const;
const LOADERS = 4;
const enc = new TextEncoder();

let cluster: Cluster;

interface Failure {
  readonly at: number;
  readonly node: number;
  readonly op: string;
  readonly error: string;
}

/** What node 0 answered before the load: MACs (hex) and ciphertexts of `secret KEY`, per key. */
interface Expected {
  readonly mac: Map<string, string>;
  readonly ciphertexts: Map<string, Uint8Array>;
}

/** The load: loops that keep reading from the nodes in `targets`, recording every failure. */
class ReadLoad {
  readonly targets = new Set<number>();
  readonly failures: Failure[] = [];
  readonly okPerNode = new Map<number, number>();
  ok = 0;
  #stop = false;
  #loops: Promise<void>[] = [];
  readonly #clients = new Map<number, KmsClient>();
  readonly #expected: Expected;

  constructor(expected: Expected) {
    this.#expected = expected;
  }

  #client(i: number): KmsClient {
    let c = this.#clients.get(i);
    if (!c) this.#clients.set(i, (c = cluster.client(i, { timeoutMs: 10_000 })));
    return c;
  }

  start(seed: number): void {
    for (let l = 0; l < LOADERS; l++) this.#loops.push(this.#loop(new Prng(seed + l)));
  }

  async #loop(rng: Prng): Promise<void> {
    for (let n = 0; n < 1_000_000 && !this.#stop; n++) {
      const targets = [...this.targets];
      if (targets.length === 0) return;
      const node = rng.pick(targets);
      const [key] = rng.pick(KEYS);
      const c = this.#client(node);
      const op = rng.pick(["status", "encrypt+decrypt", "decrypt", "generate", "mac"] as const);
      try {
        switch (op) {
          case "status":
            assert.equal((await c.keyStatus(ENCLAVE, key)).name, key);
            break;
          case "encrypt+decrypt": {
            const pt = enc.encode(`load ${n}`);
            const ct = (await c.encrypt(ENCLAVE, key, pt, enc.encode("ad"))).ciphertext as Uint8Array;
            // Decrypt on another node of the load: every node holds the same keys.
            const other = this.#client(rng.pick(targets));
            assert.deepEqual(Buffer.from((await other.decrypt(ENCLAVE, key, ct, enc.encode("ad"))).plaintext as Uint8Array), Buffer.from(pt));
            break;
          }
          case "decrypt":
            assert.equal(new TextDecoder().decode((await c.decrypt(ENCLAVE, key, this.#expected.ciphertexts.get(key)!)).plaintext as Uint8Array), `secret ${key}`);
            break;
          case "generate": {
            const g = await c.generate(ENCLAVE, key);
            assert.equal((g.plaintext as Uint8Array).length, 32);
            break;
          }
          case "mac":
            assert.equal(Buffer.from((await c.mac(ENCLAVE, key, enc.encode("fixed"))).mac as Uint8Array).toString("hex"), this.#expected.mac.get(key));
            break;
        }
        this.ok++;
        this.okPerNode.set(node, (this.okPerNode.get(node) ?? 0) + 1);
      } catch (err) {
        this.failures.push({ at: performance.now(), node, op, error: `${(err as Error).name}: ${(err as Error).message}` });
      }
    }
  }

  /** Waits until `n` more reads succeeded (so a step runs under load), with a deadline. */
  async more(n: number): Promise<void> {
    const target = this.ok + n;
    await until(() => this.ok >= target || `${this.ok}/${target} reads (failures: ${this.failures.length})`, `${n} more successful reads`, 30_000, 10);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

describe("cluster: adding and removing nodes under a read/crypto load", () => {
  const { step, failed } = reportingSteps(() => assert.deepEqual(load.failures.slice(0, 10), [], `${load.failures.length} reads failed`));
  let load: ReadLoad;
  const expected: Expected = { mac: new Map(), ciphertexts: new Map() };

  before(async () => {
    cluster = await startCluster({ size: 5, members: 3 });
    const c = cluster.client(0);
    await c.createEnclave(ENCLAVE);
    for (const [key, type] of KEYS) {
      await c.createKey(ENCLAVE, key, type);
      expected.ciphertexts.set(key, (await c.encrypt(ENCLAVE, key, enc.encode(`secret ${key}`))).ciphertext as Uint8Array);
      expected.mac.set(key, Buffer.from((await c.mac(ENCLAVE, key, enc.encode("fixed"))).mac as Uint8Array).toString("hex"));
    }
    await cluster.waitConverged();
    load = new ReadLoad(expected);
    for (const i of [0, 1, 2]) load.targets.add(i);
    load.start(42);
    await load.more(50);
  });
  after(async () => {
    await load?.stop();
    if (failed() && cluster) console.log(cluster.report());
    await cluster?.close();
    await cleanup();
  });


  step("add node 3 through the leader: no read fails; node 3 then serves the load too", async () => {
    const leader = await cluster.leader();
    assert.notEqual(leader, undefined);
    await cluster.join(3, leader!);
    await cluster.waitConverged();
    load.targets.add(3);
    await load.more(100);
    assert.ok((load.okPerNode.get(3) ?? 0) > 0, "node 3 answered reads");
  });

  step("add node 4 through a follower (forwarded): no read fails", async () => {
    const leader = await cluster.leader();
    const follower = [0, 1, 2].find((i) => i !== leader)!;
    await cluster.join(4, follower);
    await cluster.waitConverged();
    load.targets.add(4);
    await load.more(100);
    await cluster.assertSameState([0, 1, 2, 3, 4]);
  });

  step("remove a follower (node 3): no read fails on the others; node 3 stops serving", async () => {
    load.targets.delete(3);
    await load.more(20);
    const leader = await cluster.leader();
    const via = [0, 1, 2, 4].find((i) => i !== leader)!;
    await cluster.remove(3, via);
    await cluster.waitConverged();
    await load.more(100);
    await until(async () => {
      try {
        await cluster.call(3, ENCLAVE, { id: 204, request: "KeyStatusRequest", response: "KeyStatusResponse", message: { name: "r0", version: 0 } });
        return "node 3 still answers reads";
      } catch (err) {
        const status = (err as { status?: number }).status;
        return status === 503 || `node 3 answers ${status}: ${(err as Error).message}`;
      }
    }, "the removed node to stop serving", 10_000);
  });

  step("remove the leader itself: no read fails on the others; a new leader takes writes", async () => {
    const leader = (await cluster.leader())!;
    assert.notEqual(leader, undefined);
    load.targets.delete(leader);
    await load.more(20);
    const via = [...cluster.members].find((i) => i !== leader)!;
    const t0 = performance.now();
    await cluster.remove(leader, via);
    await cluster.waitConverged();
    console.log(`removed the leader (node ${leader}) via node ${via}; a new leader (node ${await cluster.leader()}) and writable in ${(performance.now() - t0).toFixed(0)} ms`);
    await load.more(100);
    assert.notEqual(await cluster.leader(), leader);
    // Writes work on the new membership and reach every member.
    await cluster.client(via).createKey(ENCLAVE, "after-changes");
    await cluster.waitConverged();
    await cluster.assertSameState([...cluster.members]);
  });

  step("summary: every read succeeded on every node it was sent to", async () => {
    await load.stop();
    console.log(`reads: ${load.ok} ok, ${load.failures.length} failed; per node ${JSON.stringify(Object.fromEntries(load.okPerNode))}`);
    assert.ok(load.ok >= 500, `enough reads ran: ${load.ok}`);
    const ls = await cluster.cli(["ls", "--json"], [...cluster.members][0]);
    assert.equal(ls.code, 0, ls.stderr);
    const hosts = Object.values(JSON.parse(ls.stdout).nodes_up as Record<string, { host: string }>).map((s) => s.host).sort();
    assert.deepEqual(hosts, [...cluster.members].map((i) => cluster.nodes[i].advertise).sort());
  });
});
