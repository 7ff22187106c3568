/** Test helpers: run the openssl CLI on temporary files, so expectations come from outside our code. */

import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs `fn` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "kms-identity-"));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl with `args` and returns its stdout; throws with stderr on failure. */
export function openssl(args: string[], input?: Uint8Array): Buffer {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] });
}

/** Writes `data` to `dir/name` and returns the path. */
export function writeTemp(dir: string, name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** The group order n of a named curve, read from openssl's explicit parameters. */
export function curveOrder(name: string): bigint {
  const text = openssl(["ecparam", "-name", name, "-param_enc", "explicit", "-text", "-noout"]).toString();
  const m = /Order:\s*\n((?:\s+[0-9a-f:]+\n)+)/i.exec(text);
  if (!m) throw new Error(`no order in openssl output for ${name}`);
  return BigInt("0x" + m[1]!.replace(/[\s:]/g, ""));
}
