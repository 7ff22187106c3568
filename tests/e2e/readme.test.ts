/**
 * README.md, run as written. Every ```console block of the README (except
 * the sections listed in SKIP, which their own tests walk) is taken from the
 * README itself and run, command by command, in one shell, from a fresh copy
 * of the repository's tracked files, with `kms` on PATH as the README says.
 * A command fails the test if it fails (or succeeds where the README shows
 * an error), or if a line of output the README shows is not printed.
 *
 * What necessarily differs from the README's own run is mapped, not edited:
 * its ports become free ones, /tmp/ and ~ become a temporary directory, and
 * values a command printed (API keys, identities) replace the README's
 * values (or placeholders like `k1:…`) in later commands. Long-running
 * commands (`kms server`, `kms edge`) run in the background, as in "another
 * shell", until the test ends. `$ cat FILE` of a file that does not exist
 * yet writes the content the README shows.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { freePorts, until } from "../helpers/cluster.ts";
import { redact } from "../helpers/e2e.ts";
import { cleanup, tempDir } from "../helpers/kms.ts";
import { processes, procLine, stopTree } from "../helpers/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** Sections walked by other tests (the cluster walkthrough kills and restarts nodes: cluster-walkthrough.test.ts). */
const SKIP = [/cluster/i];

/** One command of a console block and the output the README shows for it. */
interface Step {
  readonly section: string;
  readonly command: string;
  readonly output: string[];
}

/** The ```console blocks of README.md as steps, with the section each is in. */
function readmeSteps(text: string): Step[] {
  const steps: Step[] = [];
  let section = "", inConsole = false, current: { section: string; command: string; output: string[] } | undefined;
  for (const line of text.split("\n")) {
    if (!inConsole && /^#{2,3} /.test(line)) section = line.replace(/^#+ /, "");
    if (line.startsWith("```")) {
      inConsole = !inConsole && line.trim() === "```console";
      current = undefined;
      continue;
    }
    if (!inConsole || SKIP.some((re) => re.test(section))) continue;
    if (line.startsWith("$ ")) steps.push(current = { section, command: line.slice(2), output: [] });
    else current?.output.push(line);
  }
  return steps;
}

// ---------------------------------------------------------------- values that differ from the README's run

/** Tokens whose value differs from run to run: printed keys, identities, timestamps, ciphertexts, elisions. */
const VALUE = [
  /^k[12]:\S+$/, /^kes:v1:\S+$/, /^h1:\S+$/, /^[0-9a-f]{64}$/, /^hsm:aes256:\S+$/, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/,
  /^[A-Za-z0-9+/]{16,}={0,2}$/, /…/, /^\{".*[A-Za-z0-9+/]{16,}.*\}$/,
  // AWS key ARNs (the account derives from the cluster's id, the key id is a fresh UUID).
  /^arn:aws:kms:\S+$/, /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/,
];
const isValue = (token: string) => VALUE.some((re) => re.test(token));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A regex for a line of README output: values are wildcards (captured), spacing is free. */
function lineRegex(expected: string): RegExp {
  const tokens = expected.trim().split(/\s+/);
  return new RegExp(`^${tokens.map((t) => (isValue(t) ? "(\\S+)" : escape(t))).join("\\s+")}$`);
}

/** The README's ports, paths and values → this run's. Applied to commands, expected output and files. */
class Mapping {
  readonly #pairs = new Map<string, string>();
  readonly #ports = new Map<string, string>();
  /** tmp replaces /tmp/; home replaces the README author's home (/root/, where ~ pointed). */
  constructor(readonly tmp: string, readonly home: string) {}

  setPort(from: string, to: number): void {
    this.#ports.set(from, String(to));
  }

  /** Learns values from the output of a step: each README value maps to what this run printed in its place. */
  learn(expected: readonly string[], actual: readonly string[]): void {
    for (const e of expected) {
      const tokens = e.trim().split(/\s+/).filter(isValue);
      if (tokens.length === 0 || tokens.every((t) => t === "…")) continue;
      const re = lineRegex(this.apply(e));
      const hit = actual.map((a) => re.exec(a.trim())).find(Boolean);
      if (hit) tokens.forEach((t, i) => t !== "…" && this.#pairs.set(t, hit[i + 1]));
    }
  }

  apply(text: string): string {
    let out = text.replace(/(^|[\s="'=])\/tmp\//g, `$1${this.tmp}/`).replace(/(^|[\s="'=])\/root\//g, `$1${this.home}/`);
    for (const [from, to] of this.#ports) out = out.replace(new RegExp(`:${from}\\b`, "g"), `:${to}`);
    // Longest first: a placeholder like k1:… must not eat part of a longer value.
    for (const [from, to] of [...this.#pairs].sort((a, b) => b[0].length - a[0].length)) out = out.replaceAll(from, to);
    return out;
  }
}

// ---------------------------------------------------------------- a shell that runs the steps

/** A bash session in `cwd`: exports persist between commands, as in a terminal. */
class Shell {
  readonly #bash: ChildProcess;
  #out = "";
  #n = 0;
  readonly background: Array<{ pid: number; log: string }> = [];

  constructor(readonly cwd: string, env: Record<string, string>) {
    // Detached: a terminal signal to the test runner does not reach it; close() stops its whole tree.
    this.#bash = spawn("bash", ["--noprofile", "--norc"], { cwd, env, stdio: ["pipe", "pipe", "inherit"], detached: true });
    this.#bash.stdout!.on("data", (d) => (this.#out += d));
    this.#bash.stdin!.on("error", () => {}); // the session may be gone when close() says exit
  }

  /** Runs a command to its end; its stdout, stderr and exit code. */
  async run(command: string, timeoutMs = 90_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const n = ++this.#n;
    const [o, e] = [path.join(this.cwd, `.step${n}.out`), path.join(this.cwd, `.step${n}.err`)];
    this.#bash.stdin!.write(`{ ${command}\n} >${o} 2>${e} </dev/null; echo "__done ${n} $?"\n`);
    const marker = new RegExp(`__done ${n} (\\d+)\\n`);
    await until(() => marker.test(this.#out) || "still running", `$ ${command}`, timeoutMs, 20);
    return { code: Number(marker.exec(this.#out)![1]), stdout: readFileSync(o, "utf8"), stderr: readFileSync(e, "utf8") };
  }

  /** Starts a long-running command ("in another shell") and waits until it says it is listening. */
  async start(command: string): Promise<string> {
    const log = path.join(this.cwd, `.bg${this.background.length}.log`);
    // On a terminal, as the reader runs it (a server prints its admin API key only to a terminal).
    // On a line of its own: a trailing "# comment" must not swallow the redirection and the &.
    const onPty = `script -qfec '${command.replace(/'/g, `'\\''`)}\n' /dev/null`;
    const r = await this.run(`{ ${onPty}\n} >${log} 2>&1 & echo $!`);
    const entry = { pid: Number(r.stdout.trim()), log };
    this.background.push(entry);
    await until(() => {
      const text = readFileSync(log, "utf8");
      if (/Listening on/.test(text)) return true;
      try {
        process.kill(entry.pid, 0);
      } catch {
        throw new Error(`$ ${command} exited:\n${redact(text)}`);
      }
      return "not listening yet";
    }, `$ ${command} to listen`, 90_000);
    // The banner is one write; give a warning that follows it no chance to be missed.
    return readFileSync(log, "utf8");
  }

  /**
   * Stops the session with everything it started. A background command runs
   * under script(1), in a session of its own that the shell's process group
   * does not reach, and a server or edge outlives the hang-up of its closed
   * terminal (SIGHUP reopens its audit file, reloads its config): so the whole
   * tree gets SIGTERM, then SIGKILL after a deadline.
   */
  async close(): Promise<void> {
    await stopTree(this.#bash.pid!, 30_000); // the tree is read before any member is signalled
    this.#bash.stdin!.end();
  }
}

/** A fresh copy of the repository's tracked files (what a clone holds), sharing node_modules. */
function freshClone(into: string): string {
  const clone = path.join(into, "kms");
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    if (!existsSync(path.join(ROOT, f))) continue; // deleted in the working tree
    mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    copyFileSync(path.join(ROOT, f), path.join(clone, f));
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
  return clone;
}

let shell: Shell | undefined;
after(async () => {
  await shell?.close();
  await cleanup();
});

describe("README.md, run as written", () => {
  it("every command of its console walkthroughs works and prints what the README shows", async () => {
    const steps = readmeSteps(readFileSync(path.join(ROOT, "README.md"), "utf8"));
    const sections = [...new Set(steps.map((s) => s.section))];
    for (const required of [/single-node/i, /tenants/i, /edge/i]) {
      assert.ok(sections.some((s) => required.test(s)), `README has a console walkthrough for ${required} (walked: ${sections.join("; ")})`);
    }
    const tmp = tempDir("kms-readme-");
    const home = path.join(tmp, "home");
    mkdirSync(home);
    const clone = freshClone(tmp);
    // `kms` as the README says: the sources under Bun (the alias), or the compiled binary.
    const bin = path.join(tmp, "bin");
    mkdirSync(bin);
    const target = process.env.KMS_BINARY ? path.resolve(ROOT, process.env.KMS_BINARY) : `${path.join(clone, "node_modules/.bin/bun")} ${path.join(clone, "main.ts")}`;
    writeFileSync(path.join(bin, "kms"), `#!/bin/sh\nexec ${target} "$@"\n`);
    chmodSync(path.join(bin, "kms"), 0o755);

    const map = new Mapping(tmp, home);
    const ports = [...new Set(steps.flatMap((s) => [...[s.command, ...s.output].join("\n").matchAll(/(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\]|^|\s):(\d{4,5})\b/gm)].map((m) => m[1])))];
    const free = await freePorts(ports.length);
    ports.forEach((p, i) => map.setPort(p, free[i]));

    const env: Record<string, string> = { PATH: `${bin}:${process.env.PATH}`, HOME: home, TMPDIR: process.env.TMPDIR ?? "/tmp", LANG: "C.UTF-8" };
    shell = new Shell(home, env);
    const log: string[] = [];
    for (const step of steps) {
      const command = map.apply(step.command);
      const expected = step.output.filter((l) => l.trim() !== "");
      const where = `README "${step.section}": $ ${step.command}`;
      // `$ cat FILE` shows a file the reader is to write: write it from the README.
      const cat = /^cat ([\w.-]+)\s*$/.exec(command);
      if (cat && !existsSync(path.join(home, cat[1]))) writeFileSync(path.join(home, cat[1]), map.apply(step.output.join("\n")).trimEnd() + "\n");
      const longRunning = /^(kms|\S*\/kms) (server|edge|dev)\b/.test(command) && !/--help/.test(command);
      let lines: string[];
      if (longRunning) {
        lines = (await shell.start(command)).split("\n");
      } else {
        const r = await shell.run(command);
        const wantsError = expected[0]?.startsWith("kms: ") ?? false;
        if (wantsError) assert.notEqual(r.code, 0, `${where}\nthe README shows an error, but it succeeded:\n${redact(r.stdout)}`);
        else assert.equal(r.code, 0, `${where}\nexit ${r.code}\nstdout: ${redact(r.stdout)}\nstderr: ${redact(r.stderr)}`);
        lines = (r.stdout + r.stderr).split("\n");
      }
      // Every line the README shows is printed, in order (values and spacing aside).
      let at = 0;
      for (const e of expected) {
        if (e.trim() === "…") continue;
        const re = lineRegex(map.apply(e));
        const found = lines.findIndex((l, i) => i >= at && re.test(l.trim()));
        assert.ok(found >= 0, `${where}\nthe README shows: ${e}\nbut the output was:\n${redact(lines.join("\n"))}`);
        at = found + 1;
      }
      map.learn(step.output, lines);
      log.push(`ok  ${where}`);
    }
    assert.ok(log.length >= 20, `walked ${log.length} commands:\n${log.join("\n")}`);
    // What the walkthrough started in the background ("another shell") stops with it.
    await shell.close();
    const left = processes().filter((p) => p.cmdline.includes(tmp) || p.cwd.startsWith(tmp));
    assert.deepEqual(left.map(procLine), [], "no process of the walkthrough outlives its shell");
  });
});
