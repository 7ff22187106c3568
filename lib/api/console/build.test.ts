import { test } from "node:test";
import assert from "node:assert/strict";
import { buildConsole } from "./build.ts";

const underBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

// The budget is 2 MiB for everything the console adds to the binary
// (measured: 168 KiB, docs/console.md); the page's files are most of it, so
// they get half the budget, and a bundled dependency that would blow it fails here.
test("the console's built files stay under 1 MiB, and the page names no other origin", { skip: underBun ? false : "Bun's bundler only" }, async () => {
  const files = await buildConsole();
  const bytes = Object.values(files).reduce((n, f) => n + new TextEncoder().encode(f.body).length, 0);
  assert.ok(bytes <= 1 << 20, `the console's files are ${bytes} bytes`);
  assert.deepEqual(Object.keys(files).sort(), ["app.css", "app.js", "icon.svg", "index.html"]);
  // Nothing fetched from elsewhere: no absolute URLs in the page's HTML, script or stylesheet (SVG's xmlns is a name, not a fetch).
  for (const name of ["index.html", "app.js", "app.css"]) {
    const urls = files[name].body.match(/\bhttps?:\/\/[^\s"'`)]+/g) ?? [];
    assert.deepEqual(urls.filter((u) => !u.startsWith("http://www.w3.org/")), [], name);
  }
});
