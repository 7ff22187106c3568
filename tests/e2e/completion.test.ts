/**
 * `kms completion bash|zsh|fish` (issue 13): scripts made from the command
 * table, so every command and flag is completed. bash runs its script for
 * real; every script passes its shell's syntax check where the shell is here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { completionScript } from "../../cli/completion.ts";
import { COMMANDS } from "../../main.ts";
import { runKms } from "../helpers/kms.ts";

/** What bash's completion offers for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const cmd = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _kms; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("shell completion from the command table", () => {
  it("kms completion bash prints the script; bash completes commands and each command's flags", async () => {
    const r = await runKms(["completion", "bash"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, completionScript("bash", COMMANDS));
    assert.deepEqual(complete(r.stdout, ["kms", "sta"]), COMMANDS.map((c) => c.name).filter((n) => n.startsWith("sta")).sort());
    assert.ok(complete(r.stdout, ["kms", "sta"]).includes("stat"));
    assert.deepEqual(complete(r.stdout, ["kms", "logs", "--f"]), ["--follow"]);
    assert.deepEqual(complete(r.stdout, ["kms", "restart", "--s"]), ["--self"]);
    const all = complete(r.stdout, ["kms", ""]);
    for (const c of COMMANDS) assert.ok(all.includes(c.name), `bash completes ${c.name}`);
  });

  it("zsh and fish scripts name every command and flag, and pass their shell's syntax check", () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const script = completionScript(shell, COMMANDS);
      for (const c of COMMANDS) {
        assert.ok(script.includes(c.name), `${shell}: ${c.name}`);
        for (const flag of Object.keys(c.options)) assert.ok(script.includes(shell === "fish" ? `-l ${flag}` : `--${flag}`), `${shell}: ${c.name} --${flag}`);
      }
      const bin = `/usr/bin/${shell}`;
      if (!existsSync(bin)) continue; // checked where the shell is installed
      const r = spawnSync(bin, ["-n"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, `${shell} -n: ${r.stderr}`);
    }
  });

  it("an unknown shell is a usage error", async () => {
    const r = await runKms(["completion", "tcsh"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown shell 'tcsh': use bash, zsh or fish/);
  });
});
