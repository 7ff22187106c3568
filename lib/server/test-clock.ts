/**
 * An injectable clock for end-to-end tests of what falls due with time (a
 * key's rotation period, a 7-day deletion window): with KMS_TEST_CLOCK_FILE
 * set, the server's due-job clock (node.clock) runs ahead of the real one by
 * the milliseconds written in that file. Only that clock moves: TLS, node-to-
 * node calls and request signatures keep the real time. Testing only.
 */
import { readFileSync } from "node:fs";

/** The environment variable naming the offset file. */
export const TEST_CLOCK_ENV = "KMS_TEST_CLOCK_FILE";

/** A clock that reads its offset from `file` (re-read at most every 50 ms; a missing or bad file counts as 0). */
export function fileClock(file: string): () => number {
  let offset = 0;
  let readAt = -Infinity;
  return () => {
    const now = Date.now();
    if (now - readAt >= 50) {
      readAt = now;
      try {
        const n = Number(readFileSync(file, "utf8").trim());
        offset = Number.isFinite(n) ? n : 0;
      } catch {
        offset = 0;
      }
    }
    return now + offset;
  };
}

/** The clock KMS_TEST_CLOCK_FILE asks for, or undefined (the real clock). */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): (() => number) | undefined {
  const file = env[TEST_CLOCK_ENV];
  return file ? fileClock(file) : undefined;
}
