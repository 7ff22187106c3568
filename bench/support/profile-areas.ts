/**
 * Where a CPU profile's samples went, by area of the code: each sample goes
 * to the innermost frame of its stack that belongs to a known area (so a
 * native `subarray` called by protobufjs counts as protobuf). Counts samples,
 * not time: on a loaded machine one sample can stand for a long stall.
 */

/** The parts of a .cpuprofile (Chrome DevTools format, as Bun writes it) used here. */
interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
    readonly children?: readonly number[];
  }>;
  readonly samples: readonly number[];
}

const AREAS: ReadonlyArray<readonly [area: string, test: (url: string, fn: string) => boolean]> = [
  ["crypto (lib/crypto, node:crypto)", (u) => u.includes("/lib/crypto/") || u === "node:crypto"],
  ["protobuf (protobufjs)", (u) => u.includes("/protobufjs/")],
  ["validation (valibot)", (u) => u.includes("/valibot/")],
  ["native protocol (lib/api/native, lib/wire)", (u) => u.includes("/lib/api/native/") || u.includes("/lib/wire/")],
  ["hono + @hono/node-server", (u) => u.includes("/node_modules/hono/") || u.includes("/@hono/")],
  ["store (lib/store, drizzle, libSQL)", (u, f) => u.includes("/lib/store/") || u.includes("drizzle-orm") || u.includes("libsql") || f.startsWith("libsql_js")],
  ["replication (lib/cluster, lib/node)", (u) => u.includes("/lib/cluster/") || u.includes("/lib/node/")],
  ["state (lib/state)", (u) => u.includes("/lib/state/")],
  ["other kms code (lib/, cli/)", (u) => u.includes("/lib/") || u.includes("/cli/")],
  ["runtime: HTTP, TLS, sockets, streams", (u) => u.startsWith("node:") || u.startsWith("internal:")],
];
const UNATTRIBUTED = "runtime: native, no caller above";

/** Share of samples (0–1) per area, largest first. */
export function profileAreas(profile: CpuProfile): Array<{ area: string; share: number; samples: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = areaOf.get(id);
    if (known) return known;
    const { url, functionName } = byId.get(id)!.callFrame;
    const own = AREAS.find(([, test]) => test(url, functionName))?.[0];
    const up = parent.get(id);
    const area = own ?? (up === undefined ? UNATTRIBUTED : resolve(up));
    areaOf.set(id, area);
    return area;
  };
  const counts = new Map<string, number>();
  for (const id of profile.samples) counts.set(resolve(id), (counts.get(resolve(id)) ?? 0) + 1);
  const total = profile.samples.length;
  return [...counts].map(([area, samples]) => ({ area, samples, share: samples / total })).sort((a, b) => b.samples - a.samples);
}
