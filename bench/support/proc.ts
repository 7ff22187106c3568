/**
 * What the kernel says a process used: CPU seconds (user + system, all its
 * threads) and resident memory, read from /proc. Linux only; elsewhere the
 * figures are NaN and the harness prints "n/a".
 */
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";

/** Cores this process may use. */
export const CORES = os.availableParallelism();

let ticks: number | undefined;

/** Clock ticks per second (CLK_TCK), the unit of utime/stime in /proc/<pid>/stat. */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU seconds (user + system) a live process has used so far, or NaN when /proc cannot tell. */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`);
}

/** CPU seconds this process's main thread (the one running JavaScript) has used so far, or NaN. */
export function mainThreadCpuSeconds(): number {
  return statCpu(`/proc/${process.pid}/task/${process.pid}/stat`);
}

/**
 * CPU seconds the JIT compiler threads of a live process have used so far
 * (JavaScriptCore's, as Bun runs it, are named "JITWorker"); 0 when it has
 * none, NaN when /proc cannot tell.
 */
export function jitCpuSeconds(pid: number): number {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return NaN;
  }
  let sum = 0;
  for (const t of tasks) {
    try {
      if (!readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").startsWith("JITWorker")) continue;
    } catch {
      continue; // the thread ended
    }
    const cpu = statCpu(`/proc/${pid}/task/${t}/stat`);
    if (cpu === cpu) sum += cpu;
  }
  return sum;
}

function statCpu(file: string): number {
  try {
    const stat = readFileSync(file, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

/** Resident set size of a live process in bytes, or NaN. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Total CPU seconds of several processes. */
export function totalCpu(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
