/**
 * Profiles one kms server under one load with Bun's CPU profiler, so an
 * optimisation starts from what the server spends its time on.
 * Run: bun bench/profile.ts single|pipelined|creates|cluster-creates [--seconds S] [--out DIR]
 * or: bun bench/profile.ts spread --dir DIR --keys N (GENERATE over the N keys of a
 * directory seeded by bench/start-heap.ts, each frame a key at random; its HSM key is DIR.hsm).
 * Writes DIR/*.cpuprofile (Chrome DevTools) and DIR/*.md (default DIR:
 * bench/results/profile-<load>-<date>, not committed), and prints the hottest
 * functions by self time. cluster-creates profiles every node of a
 * three-node cluster (creates sent to the leader, node 0), one profile each.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ENCLAVE, prepareKms, singleGenerate } from "./scenarios/generate.ts";
import { runLoad } from "./support/load.ts";
import { profileAreas } from "./support/profile-areas.ts";
import type { Load } from "./support/loads.ts";
import { CORES } from "./support/proc.ts";
import { num } from "./support/report.ts";
import { Fleet, ROOT } from "./support/servers.ts";
import { startCluster } from "./scenarios/writes.ts";

const CREATES: Load = { kind: "create", enclave: ENCLAVE, prefix: "p-", from: 0 };
const SHAPES: Record<string, { load: Load; connections: number; opsPerRequest: number; nodes?: number }> = {
  single: { load: singleGenerate(), connections: 64, opsPerRequest: 1 },
  pipelined: { load: singleGenerate(1000), connections: 4, opsPerRequest: 1000 },
  creates: { load: CREATES, connections: 64, opsPerRequest: 1 },
  "cluster-creates": { load: CREATES, connections: 64, opsPerRequest: 1, nodes: 3 },
  spread: { load: singleGenerate(1000), connections: 4, opsPerRequest: 1000 },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: "string", default: "10" }, out: { type: "string" }, top: { type: "string", default: "25" }, dir: { type: "string" }, keys: { type: "string" } },
});
const shape = SHAPES[positionals[0] ?? ""];
const seconds = Number(values.seconds);
if (!shape || !(seconds > 0)) {
  console.error(`usage: bun bench/profile.ts ${Object.keys(SHAPES).join("|")} [--seconds S] [--out DIR] [--top N]`);
  process.exit(2);
}

const name = positionals[0];
const out = path.resolve(values.out ?? path.join(ROOT, "bench/results", `profile-${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`));
mkdirSync(out, { recursive: true });
const fleet = new Fleet({ profileDir: out });
try {
  const seeded = values.dir ? path.resolve(values.dir) : undefined;
  const nodes = shape.nodes
    ? await startCluster(fleet, shape.nodes)
    : [seeded ? await fleet.startKms({ dir: seeded, hsmKey: readFileSync(`${seeded}.hsm`, "utf8") }) : await fleet.startKms()];
  const server = nodes[0];
  if (shape.nodes) await server.client().createEnclave(ENCLAVE);
  else if (!seeded) await prepareKms(server);
  if (name === "spread") shape.load = singleGenerate(1000, Number(values.keys ?? 1));
  const r = await runLoad({
    address: server.address, ca: server.ca, apiKey: server.apiKey, serverPids: nodes.map((n) => n.pid),
    load: shape.load, connections: shape.connections, opsPerRequest: shape.opsPerRequest, workers: Math.max(2, CORES), seconds,
  });
  // The profiles are written when the servers exit.
  for (const n of nodes) await n.stop();
  console.log(`${name}: ${num(r.opsPerSec)} ops/s, ${num(r.opsPerServerCpuSec)} per server CPU-s, server ${num(r.serverCores)} cores, ` +
    `${r.errors} errors; p50 ${num(r.p50Ms)} ms, p99 ${num(r.p99Ms)} ms`);
  const profiles = readdirSync(out).filter((f) => f.endsWith(".cpuprofile")).sort();
  if (profiles.length < nodes.length) throw new Error(`not every server wrote a profile to ${out}`);
  for (const [i, n] of nodes.entries()) {
    // Bun names each profile after its process id.
    const json = profiles.find((f) => f.includes(`.${n.pid}.`)) ?? profiles[i];
    const md = readdirSync(out).find((f) => f.endsWith(".md") && f.includes(`.${n.pid}.`)) ?? json.replace(/\.cpuprofile$/, ".md");
    if (nodes.length > 1) console.log(`\n# node ${i}${i === 0 ? " (the leader)" : ""}: ${json}`);
    console.log("\n## Samples by area (innermost known frame)\n");
    for (const a of profileAreas(JSON.parse(readFileSync(path.join(out, json), "utf8")))) {
      console.log(`${(a.share * 100).toFixed(1).padStart(5)}%  ${a.area}`);
    }
    console.log();
    const text = readFileSync(path.join(out, md), "utf8");
    const hot = text.slice(text.indexOf("## Hot Functions"), text.indexOf("## Call Tree"));
    console.log(hot.split("\n").slice(0, 4 + Number(values.top)).join("\n"));
  }
  console.log(`\nwhole profiles: ${out} (a .md and a .cpuprofile per server, the latter for Chrome DevTools)`);
} finally {
  await fleet.cleanup();
}
