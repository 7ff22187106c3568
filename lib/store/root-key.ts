/**
 * The data directory's root key: 32 random bytes that encrypt every record,
 * stored only sealed by the HSM in `root.seal`.
 */
import * as v from "valibot";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "../crypto/random.ts";
import { HsmMismatchError, type SoftHsm } from "../hsm/soft.ts";
import { writeFileAtomic } from "./atomic-file.ts";
import { DataDirError } from "./errors.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";

export const ROOT_SEAL_FILE = "root.seal";
export const ROOT_KEY_SIZE = 32;
/** The HSM label binding the sealed bytes to their purpose. */
const ROOT_KEY_LABEL = "kms/v1/root-key";

const RootSealFile = v.object({
  version: v.literal(1),
  sealed: v.pipe(v.string(), v.base64()),
});

/** Makes a new random root key and writes it, sealed, to DIR/root.seal (mode 0600). */
export async function createRootKey(dir: string, hsm: SoftHsm): Promise<Uint8Array> {
  const root = randomBytes(ROOT_KEY_SIZE);
  const sealed = hsm.seal(root, ROOT_KEY_LABEL);
  const json = JSON.stringify({ version: 1, sealed: encodeBase64(sealed) }) + "\n";
  await writeFileAtomic(join(dir, ROOT_SEAL_FILE), new TextEncoder().encode(json), 0o600);
  return root;
}

/** Reads and unseals DIR/root.seal; HsmMismatchError when the HSM key is not the one that sealed it. */
export async function readRootKey(dir: string, hsm: SoftHsm): Promise<Uint8Array> {
  const path = join(dir, ROOT_SEAL_FILE);
  let parsed: v.InferOutput<typeof RootSealFile>;
  try {
    parsed = v.parse(RootSealFile, JSON.parse(await readFile(path, "utf8")));
  } catch (err) {
    // The cause is kept only for I/O errors: valibot issues would quote the file's content.
    const io = err instanceof Error && "code" in err;
    throw new DataDirError(`${path} is malformed or unreadable: the data directory is damaged`, io ? { cause: err } : undefined);
  }
  let root: Uint8Array;
  try {
    root = hsm.unseal(decodeBase64(parsed.sealed), ROOT_KEY_LABEL);
  } catch (err) {
    if (err instanceof HsmMismatchError) {
      throw new HsmMismatchError(`the HSM key does not match this data directory (${dir})`);
    }
    throw err;
  }
  if (root.length !== ROOT_KEY_SIZE) throw new DataDirError(`${path} holds a root key of the wrong size: the data directory is damaged`);
  return root;
}
