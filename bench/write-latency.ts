/**
 * Write latency (KEY:CREATE, acknowledged only when every node has it) for
 * clusters of 1, 3 and 5 real server processes on this machine, plus GENERATE
 * latency on a follower as the read baseline.
 * Run: bun bench/write-latency.ts [writes] [sizes, e.g. 1,3,5]
 */
import { SoftHsm } from "../lib/hsm/soft.ts";
import { cleanup, type KmsServer, startServer } from "../tests/helpers/kms.ts";

const writes = Number(process.argv[2] ?? 200);
const sizes = (process.argv[3] ?? "1,3,5").split(",").map(Number);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const fmt = (ms: number[]) => `p50 ${percentile(ms, 50).toFixed(2)} ms  p99 ${percentile(ms, 99).toFixed(2)} ms`;

try {
  for (const size of sizes) {
    const hsmKey = SoftHsm.generate();
    const nodes: KmsServer[] = [];
    for (let i = 0; i < size; i++) nodes.push(await startServer({ hsmKey }));
    const leader = nodes[0].client();
    for (const n of nodes.slice(1)) await leader.addNode(n.address);
    await leader.createEnclave("bench");
    const create = await timed(writes, (i) => leader.createKey("bench", `key-${i}`));
    const follower = nodes[size - 1].client();
    const viaFollower = await timed(Math.min(writes, 100), (i) => follower.createKey("bench", `fwd-${i}`));
    const reads = await timed(writes, () => follower.generate("bench", "key-0"));
    console.log(`${size} node(s): create key on the leader ${fmt(create)} | via a follower ${fmt(viaFollower)} | GENERATE ${fmt(reads)}`);
    await cleanup();
  }
} finally {
  await cleanup();
}
process.exit(0);
