/**
 * Builds the standalone `kms` binary with Bun.build({ compile }).
 * Usage: bun scripts/compile.ts [--entry main.ts] [--outfile dist/kms]
 *
 * libsql loads its native addon with `require(\`@libsql/${target}\`)`, which a
 * compiled binary cannot resolve: there is no node_modules beside it. The
 * plugin below rewrites that call into a static require of the build host's
 * addon, so Bun embeds the .node file in the executable.
 */
import type { BunPlugin } from "bun";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { mkdirSync, readFileSync } from "node:fs";
import { buildConsole, type ConsoleFiles } from "../lib/api/console/build.ts";

const ROOT = resolve(import.meta.dir, "..");
const DYNAMIC_REQUIRE = "require(`@libsql/${target}`)";

/** The @libsql/* package name of this host's prebuilt addon, chosen the way libsql chooses at run time. */
export function libsqlTarget(): string {
  const { platform, arch } = process;
  if (platform !== "linux") return `${platform}-${arch}`;
  // Resolve detect-libc from libsql's own location: it is libsql's dependency, not ours.
  const fromLibsql = createRequire(createRequire(join(ROOT, "package.json")).resolve("libsql"));
  const { familySync, MUSL } = fromLibsql("detect-libc") as { familySync(): string | null; MUSL: string };
  if (arch === "arm") return familySync() === MUSL ? "linux-arm-musleabihf" : "linux-arm-gnueabihf";
  return `linux-${arch}-${familySync() === MUSL ? "musl" : "gnu"}`;
}

/** The npm package holding the prebuilt addon for target. */
function addonPackage(target: string): string {
  return `@libsql/${target}`;
}

/** A Bun.build plugin replacing libsql's dynamic addon require with a static one. */
export function libsqlNativePlugin(target: string): BunPlugin {
  const addon = `${addonPackage(target)}/index.node`;
  return {
    name: "libsql-static-native",
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]libsql[\\/]index\.js$/ }, ({ path }) => {
        const source = readFileSync(path, "utf8");
        // Fail the build rather than ship a binary that cannot open its database.
        if (!source.includes(DYNAMIC_REQUIRE)) {
          throw new Error(`${path}: libsql's native require changed; update scripts/compile.ts`);
        }
        return { contents: source.replace(DYNAMIC_REQUIRE, `require(${JSON.stringify(addon)})`), loader: "js" };
      });
    },
  };
}

/**
 * A Bun.build plugin that puts the console's page into the binary: the
 * module that builds it on first use (lib/api/console/bundle.ts) becomes one
 * that returns the files built now.
 */
export function consolePlugin(files: ConsoleFiles): BunPlugin {
  return {
    name: "console-files",
    setup(build) {
      build.onLoad({ filter: /[\\/]lib[\\/]api[\\/]console[\\/]bundle\.ts$/ }, () => ({
        contents: `const files = ${JSON.stringify(files)};\nexport function consoleFiles() { return Promise.resolve(files); }\n`,
        loader: "js",
      }));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { entry: { type: "string", default: "main.ts" }, outfile: { type: "string", default: "dist/kms" } },
    strict: true,
  });
  const entry = resolve(values.entry!);
  const outfile = resolve(values.outfile!);
  const target = libsqlTarget();
  // Check the addon exists now, not when the binary first opens a database.
  createRequire(join(ROOT, "package.json")).resolve(`${addonPackage(target)}/index.node`);
  mkdirSync(dirname(outfile), { recursive: true });

  const result = await Bun.build({
    // The serving threads' module (lib/server/threads.ts starts it as a Worker) is an entry point of its own.
    entrypoints: [entry, join(ROOT, "lib/server/serving-worker.ts")],
    compile: { outfile },
    // Names stay: errors and logs are matched by class name.
    minify: { whitespace: true, syntax: true },
    plugins: [libsqlNativePlugin(target), consolePlugin(await buildConsole())],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("build failed");
  }
  console.log(`compile: ${relative(process.cwd(), entry)} → ${relative(process.cwd(), outfile)}, with the ${addonPackage(target)} addon`);
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(`compile: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
