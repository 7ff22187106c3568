/** Recognises what a data directory path holds before anything is opened or written. */
import { readdir, stat } from "node:fs/promises";
import { DataDirError } from "./errors.ts";
import { DB_FILE } from "./database.ts";
import { ROOT_SEAL_FILE } from "./root-key.ts";

/** What a path holds: nothing yet (missing or empty), or an existing kms data directory. */
export type DataDirState = "missing" | "empty" | "existing";

/** Classifies dir without changing it; DataDirError when it is not (or no longer) a kms data directory. */
export async function inspectDataDir(dir: string): Promise<DataDirState> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new DataDirError(`${dir} is not a directory`);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return "missing";
    throw err;
  }
  const names = await readdir(dir);
  if (names.length === 0) return "empty";
  if (!names.includes(ROOT_SEAL_FILE)) {
    throw new DataDirError(
      `${dir} is not a kms data directory: it is not empty and has no ${ROOT_SEAL_FILE}; ` +
        "use an empty or non-existent directory for a new one",
    );
  }
  if (!names.includes(DB_FILE)) {
    throw new DataDirError(`${dir} is damaged: it has ${ROOT_SEAL_FILE} but no ${DB_FILE}`);
  }
  return "existing";
}
