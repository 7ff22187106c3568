/**
 * The console's built files. From sources, under Bun, they are built on
 * first use; the compile script replaces this module with one that returns
 * the files built at compile time, so the binary carries them and needs
 * nothing else at run time. Other runtimes (Deno) have no bundler: there the
 * console answers that it is not built in.
 */
import type { ConsoleFiles } from "./build.ts";

let built: Promise<ConsoleFiles | undefined> | undefined;

/** The console's files, or undefined where they cannot be built. */
export function consoleFiles(): Promise<ConsoleFiles | undefined> {
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") return Promise.resolve(undefined);
  built ??= import("./build.ts").then((m) => m.buildConsole());
  return built;
}
