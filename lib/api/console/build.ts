/**
 * Builds the console's page from console/ with Bun's bundler: one minified
 * script, the stylesheet and the HTML shell. Run by the compile script (the
 * files go into the binary) and, from sources under Bun, on first use.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

/** Files by name (relative to /console/), each with its Content-Type. */
export type ConsoleFiles = Record<string, { readonly type: string; readonly body: string }>;

const SOURCES = path.resolve(import.meta.dirname, "../../../console");

/** Builds the console's files; throws with the bundler's messages if the sources do not build. */
export async function buildConsole(): Promise<ConsoleFiles> {
  const result = await Bun.build({
    entrypoints: [path.join(SOURCES, "main.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  if (!result.success || result.outputs.length !== 1) {
    throw new Error(`console build failed: ${result.logs.map((l) => String(l)).join("; ") || "unexpected outputs"}`);
  }
  const text = (name: string) => readFileSync(path.join(SOURCES, name), "utf8");
  return {
    "index.html": { type: "text/html; charset=utf-8", body: text("index.html") },
    "app.js": { type: "text/javascript; charset=utf-8", body: await result.outputs[0].text() },
    "app.css": { type: "text/css; charset=utf-8", body: text("app.css") },
    "icon.svg": { type: "image/svg+xml", body: text("icon.svg") },
  };
}
