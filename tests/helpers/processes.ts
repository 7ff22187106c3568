/**
 * Processes as /proc shows them (Linux; elsewhere there are none to see): a
 * process tree stopped as a whole, however its members left their parent's
 * process group or session (script(1), setsid), and the processes started
 * from a checkout that are still alive (tests/run.ts fails a run that leaves
 * any behind).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { redact } from "./e2e.ts";

/** One live process. */
export interface Proc {
  readonly pid: number;
  readonly ppid: number;
  /** Start time in clock ticks since boot: with the pid, names this process and no later one. */
  readonly start: number;
  readonly cmdline: string;
  /** Working directory and executable ("" when unreadable); " (deleted)" is stripped. */
  readonly cwd: string;
  readonly exe: string;
}

/** The pid and start time: a key that a recycled pid does not match. */
export const procKey = (p: Pick<Proc, "pid" | "start">): string => `${p.pid}@${p.start}`;

const link = (file: string): string => {
  try {
    return readlinkSync(file).replace(/ \(deleted\)$/, "");
  } catch {
    return "";
  }
};

/** The process with this pid, unless it is gone or a zombie (dead, waiting to be reaped). */
export function procOf(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields count from its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
    return { pid, ppid: Number(fields[1]), start: Number(fields[19]), cmdline, cwd: link(`/proc/${pid}/cwd`), exe: link(`/proc/${pid}/exe`) };
  } catch {
    return undefined;
  }
}

/** Every live process this user may see (none where there is no /proc). */
export function processes(): Proc[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
  return pids.map(procOf).filter((p): p is Proc => p !== undefined);
}

/** The process and all its descendants, parents before children. */
export function processTree(pid: number, all: readonly Proc[] = processes()): Proc[] {
  const root = all.find((p) => p.pid === pid);
  if (!root) return [];
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
  return tree;
}

const alive = (p: Proc): boolean => {
  const now = procOf(p.pid);
  return now !== undefined && now.start === p.start;
};

const signal = (p: Proc, sig: NodeJS.Signals): void => {
  try {
    if (alive(p)) process.kill(p.pid, sig);
  } catch { /* gone meanwhile */ }
};

async function gone(procs: readonly Proc[], timeoutMs: number): Promise<Proc[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = procs.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Stops processes: SIGTERM to each, then SIGKILL to those still alive after
 * timeoutMs, waiting (bounded) until they are gone. Resolves to the ones
 * that needed SIGKILL.
 */
export async function stopProcesses(procs: readonly Proc[], timeoutMs = 10_000): Promise<Proc[]> {
  for (const p of procs) signal(p, "SIGTERM");
  const stubborn = await gone(procs, timeoutMs);
  for (const p of stubborn) signal(p, "SIGKILL");
  const left = await gone(stubborn, 10_000);
  if (left.length) throw new Error(`still alive after SIGKILL: ${left.map(procLine).join("; ")}`);
  return stubborn;
}

/**
 * Stops a process and every descendant (found before any is signalled: a
 * child whose parent dies is adopted elsewhere and no longer in the tree),
 * SIGTERM first, SIGKILL after timeoutMs. Killing only the parent's process
 * group misses what runs in a session of its own, like a command under
 * script(1), which a hang-up from the closed terminal may not stop.
 */
export function stopTree(pid: number, timeoutMs = 10_000): Promise<Proc[]> {
  return stopProcesses(processTree(pid), timeoutMs);
}

/** Whether a process belongs to the checkout at root: root is in its command line, or holds its working directory or executable. */
export function startedFrom(p: Proc, root: string): boolean {
  const within = (file: string) => file === root || file.startsWith(root + "/");
  return p.cmdline.includes(root + "/") || p.cmdline.endsWith(root) || within(p.cwd) || within(p.exe);
}

/** Live processes of the checkout at root that were not alive in `before` (keys from procKey), leaving out this process. */
export function leftBehind(root: string, before: ReadonlySet<string>): Proc[] {
  return processes().filter((p) => p.pid !== process.pid && !before.has(procKey(p)) && startedFrom(p, root));
}

/** A process on one line: pid, command line (keys blanked) and working directory. */
export function procLine(p: Proc): string {
  return `pid ${p.pid}: ${redact(p.cmdline)} (cwd ${p.cwd || "?"})`;
}
