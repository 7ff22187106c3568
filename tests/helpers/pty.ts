/**
 * Runs a command on a pseudo-terminal (util-linux `script`), so that it sees
 * a terminal on stdin and stderr as a person's shell would, and answers its
 * prompts: each answer is typed once the output matches its pattern.
 */
import { spawn, spawnSync } from "node:child_process";
import type { RunResult } from "./kms.ts";
import { stopTree } from "./processes.ts";

/** Whether `script` (util-linux) is installed to make pseudo-terminals. */
export function ptyAvailable(): boolean {
  return spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One prompt to answer: when the output (so far) matches `when`, type `type`. */
export interface Answer {
  readonly when: RegExp;
  readonly type: string;
}

/**
 * Runs argv on a pseudo-terminal with extra environment, typing each answer
 * when its prompt appears. stdout holds everything the terminal showed
 * (stdout, stderr and the echoed answers, with \r\n line ends as a terminal
 * shows them); stderr holds problems of the harness itself.
 */
export function runOnPty(argv: string[], env: Record<string, string>, answers: readonly Answer[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // -e: the command's exit code; -q: no banner; /dev/null: no typescript file.
    const child = spawn("script", ["-qec", argv.map(quote).join(" "), "/dev/null"], {
      env: { ...process.env, ...env, TERM: "dumb" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "", err = "";
    let next = 0;
    const onOutput = () => {
      while (next < answers.length && answers[next].when.test(out)) child.stdin.write(answers[next++].type);
    };
    child.stdout.on("data", (d) => {
      out += d;
      onOutput();
    });
    child.stderr.on("data", (d) => (err += d));
    // The command runs in a session of its own on the terminal: stop the whole tree, not script alone.
    const timer = setTimeout(() => stopTree(child.pid!, 1_000).catch(() => {}), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (next < answers.length) err += `prompt not seen: ${answers[next].when}\n`;
      resolve({ code: code ?? (signal ? 128 : -1), stdout: out, stderr: err });
    });
  });
}
