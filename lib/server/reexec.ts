/**
 * How a server process restarts itself: it stops gracefully, then replaces
 * itself with the same program, arguments and environment (execve: the same
 * PID, so a shell, a supervisor or systemd sees nothing but a short pause;
 * a binary replaced on disk is the one that starts, which is how an upgrade
 * rolls). Bun provides execve; a runtime that does not (Deno) exits with
 * status 75 (EX_TEMPFAIL) instead, for a supervisor to start it again.
 */

/** Exit status of a restart that a supervisor must complete. */
export const RESTART_EXIT = 75;

/** The argv to start this same program again (without the runtime's own path). */
export function ownArgs(argv: readonly string[] = process.argv): string[] {
  // A compiled Bun binary reports its embedded entry as argv[1] ("/$bunfs/root/…"): it is not an argument.
  return argv[1]?.startsWith("/$bunfs/") ? argv.slice(2) : argv.slice(1);
}

/**
 * The arguments with `--addr HOST:0` made `--addr HOST:PORT` for the port the
 * server was given: a server that let the system pick its port keeps it
 * across a restart (its clients and peers know it by that port).
 */
export function keepingPort(args: readonly string[], port: number): string[] {
  const out = [...args];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === "--addr" && i + 1 < out.length) out[i + 1] = out[i + 1].replace(/:0$/, `:${port}`);
    else if (out[i].startsWith("--addr=")) out[i] = out[i].replace(/:0$/, `:${port}`);
  }
  return out;
}

/** Replaces this process with the same command (listening on `port`); returns only if it cannot (the caller then exits RESTART_EXIT). */
export function reexec(port: number): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== "function") return;
  execve(process.execPath, [process.execPath, ...keepingPort(ownArgs(), port)], process.env);
}
