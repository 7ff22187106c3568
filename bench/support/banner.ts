/**
 * Waiting for a server process's start-up banner, shared by the benchmarks
 * and the tests' server helpers (which may import bench/support, never the
 * other way round).
 */
import type { ChildProcess } from "node:child_process";

/**
 * Resolves with the port of the first "Listening on https://127.0.0.1:PORT"
 * in what the process printed (`output()`, re-read as stdout grows); rejects
 * if it exits first or the deadline passes.
 */
export function waitForBanner(child: ChildProcess, output: () => string, timeoutMs: number, name = "server"): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const deadline = setTimeout(() => finish(new Error(`${name} did not start within the deadline:\n${output()}`)), timeoutMs);
    const check = () => {
      const m = /Listening on\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(output());
      if (m) finish(undefined, Number(m[1]));
    };
    const onExit = () => finish(new Error(`${name} exited before it was ready:\n${output()}`));
    function finish(err?: Error, port?: number) {
      clearTimeout(deadline);
      child.stdout!.off("data", check);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(port!);
    }
    child.stdout!.on("data", check);
    child.once("exit", onExit);
    check();
  });
}
