/**
 * Locking the process's memory (mlockall) so key material never reaches swap,
 * through the runtime's FFI (Bun's bun:ffi, Deno's Deno.dlopen). If the call
 * is not permitted the server must not run unlocked: the error says exactly
 * what is missing (CAP_IPC_LOCK, or a large enough LimitMEMLOCK).
 */
import { readFileSync } from "node:fs";

/** Lock what is mapped now and whatever is mapped later, each page once it is first touched (Linux 4.4+). */
const MCL_CURRENT = 1, MCL_FUTURE = 2, MCL_ONFAULT = 4;
const FLAGS = MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT;
const LIBC = "libc.so.6";
/** The bit of CAP_IPC_LOCK in /proc/self/status's capability masks. */
const CAP_IPC_LOCK = 14;

/** Memory could not be locked; the message says what to grant. */
export class MlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MlockError";
  }
}

/** Calls mlockall(flags) through the runtime's FFI; returns its result (0 on success). */
function mlockall(flags: number): number {
  const g = globalThis as { Bun?: unknown; Deno?: { dlopen: (p: string, s: unknown) => { symbols: { mlockall(f: number): number }; close(): void } } };
  if (g.Bun) {
    // A require, not an import: Deno must never try to resolve bun:ffi.
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const lib = dlopen(LIBC, { mlockall: { args: [FFIType.i32], returns: FFIType.i32 } });
    try {
      return lib.symbols.mlockall(flags);
    } finally {
      lib.close();
    }
  }
  if (g.Deno) {
    const lib = g.Deno.dlopen(LIBC, { mlockall: { parameters: ["i32"], result: "i32" } });
    try {
      return lib.symbols.mlockall(flags);
    } finally {
      lib.close();
    }
  }
  throw new MlockError("--mlock needs Bun or Deno (their FFI calls mlockall)");
}

/** Whether the process has CAP_IPC_LOCK in effect, and its locked-memory limit in bytes (Infinity: unlimited). */
export function lockPermissions(): { capIpcLock: boolean; limitBytes: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const capEff = BigInt("0x" + (/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  const limits = readFileSync("/proc/self/limits", "utf8");
  const soft = /^Max locked memory\s+(\S+)/m.exec(limits)?.[1] ?? "0";
  return { capIpcLock: ((capEff >> BigInt(CAP_IPC_LOCK)) & 1n) === 1n, limitBytes: soft === "unlimited" ? Infinity : Number(soft) };
}

/** The memory the process has locked, in kB (VmLck). */
export function lockedKb(): number {
  return Number(/^VmLck:\s*(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

/** Locks all of the process's memory, now and later; MlockError (saying what is missing) when not permitted. */
export function lockMemory(): void {
  if (process.platform !== "linux") throw new MlockError("--mlock is supported on Linux only");
  if (mlockall(FLAGS) === 0) return;
  const { capIpcLock, limitBytes } = lockPermissions();
  const limit = limitBytes === Infinity ? "unlimited" : `${Math.floor(limitBytes / 1024)} KiB`;
  const missing = capIpcLock
    ? `mlockall failed although the process has CAP_IPC_LOCK (locked-memory limit ${limit})`
    : `the process lacks CAP_IPC_LOCK and its locked-memory limit (${limit}) is below what it maps`;
  throw new MlockError(
    `cannot lock memory (--mlock): ${missing}. Grant CAP_IPC_LOCK (systemd: AmbientCapabilities=CAP_IPC_LOCK; ` +
      "docker: --cap-add IPC_LOCK) or raise the limit (systemd: LimitMEMLOCK=infinity; shell: ulimit -l unlimited)",
  );
}
