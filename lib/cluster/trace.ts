// TEMPORARY debug trace (issue 12, i12w3): remove before merging.
import { appendFileSync } from "node:fs";
const FILE = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.KMS_TRACE;
const t0 = performance.timeOrigin;
export function trace(what: string): void {
  if (!FILE) return;
  appendFileSync(FILE, `${(t0 + performance.now()).toFixed(3)} ${process.pid} ${what}\n`);
}
