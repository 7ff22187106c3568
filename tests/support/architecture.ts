/** Reads the import graph of the sources and checks it against the floor table (tests/architecture.test.ts). */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** A place (a folder ending in "/" or a file) and its floor. */
export interface Floor {
  readonly place: string;
  readonly floor: number;
}

/** The floor table: the fenced `floors` block of a markdown text, one floor per line ("N place place …"). */
export function parseFloors(markdown: string): Floor[] {
  const block = /```floors\n([\s\S]*?)```/.exec(markdown);
  if (!block) throw new Error("no ```floors block");
  const out: Floor[] = [];
  for (const line of block[1].split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [n, ...places] = line.split(/\s+/);
    for (const place of places) out.push({ place, floor: Number(n) });
  }
  return out;
}

const SOURCES = ["main.ts", "cli", "lib", "bench"];
// Static imports and re-exports (type-only ones too: they tie files as much), and dynamic imports.
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

function sourceFiles(root: string, rel: string): string[] {
  const full = path.join(root, rel);
  if (rel.endsWith(".ts")) return [rel];
  return readdirSync(full, { withFileTypes: true }).flatMap((e) => {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "results" ? [] : sourceFiles(root, p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [p] : [];
  });
}

/** Every non-test source file and the files of this tree it imports (paths from `root`, "/"-separated). */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of SOURCES.flatMap((s) => sourceFiles(root, s))) {
    const text = readFileSync(path.join(root, file), "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
    const targets = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith(".")) targets.add(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** The place a file is on: the longest place of the table that holds it. */
function placeOf(floors: readonly Floor[], file: string): Floor | undefined {
  let best: Floor | undefined;
  for (const f of floors) {
    const holds = f.place.endsWith("/") ? file.startsWith(f.place) : file === f.place;
    if (holds && (!best || f.place.length > best.place.length)) best = f;
  }
  return best;
}

/** Every import that points up (or sideways to another place of the same floor), into no place, or round a loop. */
export function checkImports(floors: readonly Floor[], graph: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = placeOf(floors, file);
    for (const target of targets) {
      const to = placeOf(floors, target);
      if (!from || !to) problems.push(`unplaced: ${file} -> ${target} (a file on no floor of docs/architecture.md)`);
      else if (from.place !== to.place && to.floor >= from.floor) {
        problems.push(`up: ${file} -> ${target} (${from.place} is on floor ${from.floor}, ${to.place} on floor ${to.floor})`);
      }
    }
  }
  for (const loop of loops(graph)) problems.push(`loop: ${loop.join(" -> ")}`);
  return problems;
}

/** The files that import each other in a loop: strongly connected components (Tarjan) of more than one file, or a file importing itself. */
function loops(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const stack: string[] = [], out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}
