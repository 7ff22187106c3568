/**
 * The house rules of the import graph: every import of main.ts, cli/, lib/
 * and bench/ points down the floors of docs/architecture.md (or stays in its
 * own folder), and no files import each other in a loop. Tests (*.test.ts,
 * tests/) may import anything; nothing else may import them.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { checkImports, importGraph, parseFloors } from "./support/architecture.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

test("every import points down the floors of docs/architecture.md, and no files import each other in a loop", () => {
  const floors = parseFloors(readFileSync(path.join(ROOT, "docs/architecture.md"), "utf8"));
  const problems = checkImports(floors, importGraph(ROOT));
  assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
});

test("the check finds a planted import up the floors and a planted loop", () => {
  const floors = parseFloors("```floors\n2 lib/b/\n1 lib/a/\n```");
  const graph = new Map([
    ["lib/a/x.ts", ["lib/b/y.ts"]], // up a floor
    ["lib/b/y.ts", ["lib/a/x.ts"]],
    ["lib/b/p.ts", ["lib/b/q.ts"]], // a loop inside one folder
    ["lib/b/q.ts", ["lib/b/p.ts"]],
    ["lib/b/t.ts", ["tests/helpers/z.ts"]], // tests are nobody's to import
  ]);
  const problems = checkImports(floors, graph);
  assert.ok(problems.some((p) => p.startsWith("up: lib/a/x.ts -> lib/b/y.ts")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("loop:") && p.includes("lib/b/p.ts") && p.includes("lib/b/q.ts")), problems.join("\n"));
  assert.ok(problems.some((p) => p.startsWith("unplaced: lib/b/t.ts -> tests/helpers/z.ts")), problems.join("\n"));
});

test("every folder of lib/ has a floor", () => {
  const floors = parseFloors(readFileSync(path.join(ROOT, "docs/architecture.md"), "utf8"));
  const entries = readdirSync(path.join(ROOT, "lib"), { withFileTypes: true }).map((e) => `lib/${e.name}${e.isDirectory() ? "/" : ""}`);
  assert.deepEqual(entries.filter((e) => !floors.some((f) => f.place === e)), []);
});
