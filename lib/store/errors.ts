/** Errors of the data directory. Messages name paths, never keys, values or record contents. */

/** The data directory is not a kms data directory, is damaged, or holds a corrupt record. */
export class DataDirError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DataDirError";
  }
}
