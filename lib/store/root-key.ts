/**
 * The data directory's root key: 32 random bytes that encrypt every record,
 * stored only sealed in `root.seal`. Format 2 seals it, with the node's other
 * secrets (`extra`: the cluster credentials), for every configured HSM key,
 * so a server started with any one of them unseals; format 1 (older
 * directories) sealed the root key alone under one HSM key.
 */
import * as v from "valibot";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "../crypto/random.ts";
import { decodeBase64, encodeBase64 } from "../encoding/base64.ts";
import { sealTo } from "../hsm/public-seal.ts";
import { HsmMismatchError, type SoftHsm } from "../hsm/soft.ts";
import { writeFileAtomic } from "./atomic-file.ts";
import { DataDirError } from "./errors.ts";

export const ROOT_SEAL_FILE = "root.seal";
export const ROOT_KEY_SIZE = 32;
/** The HSM label binding the sealed bytes to their purpose. */
const ROOT_KEY_LABEL = "kms/v1/root-key";

const Base64 = v.pipe(v.string(), v.base64());
const RootSealFile = v.variant("version", [
  v.object({ version: v.literal(1), sealed: Base64 }),
  v.object({
    version: v.literal(2),
    seals: v.pipe(v.array(v.object({ hsm: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)), sealed: Base64 })), v.minLength(1), v.maxLength(64)),
  }),
]);

/** An HSM key the root key is sealed for: its public half and its name. */
export interface SealRecipient {
  readonly fingerprint: string;
  readonly publicKey: Uint8Array;
}

/** What root.seal holds for one HSM key. */
export interface Unsealed {
  readonly root: Uint8Array;
  /** The node's other secrets (null in a format 1 file, which has none). */
  readonly extra: Uint8Array | null;
  /** The HSM keys the file is sealed for (format 1: just the one that opened it). */
  readonly sealedFor: readonly string[];
  readonly version: 1 | 2;
}

/** Writes root ‖ extra to DIR/root.seal (mode 0600), sealed for every recipient. */
export async function writeRootSeal(dir: string, root: Uint8Array, extra: Uint8Array, recipients: readonly SealRecipient[]): Promise<void> {
  if (recipients.length === 0) throw new RangeError("writeRootSeal: the root key needs at least one HSM key");
  const payload = new Uint8Array(ROOT_KEY_SIZE + extra.length);
  payload.set(root);
  payload.set(extra, ROOT_KEY_SIZE);
  const seals = recipients.map((r) => ({ hsm: r.fingerprint, sealed: encodeBase64(sealTo(r.publicKey, payload, ROOT_KEY_LABEL)) }));
  payload.fill(0);
  const json = JSON.stringify({ version: 2, seals }) + "\n";
  await writeFileAtomic(join(dir, ROOT_SEAL_FILE), new TextEncoder().encode(json), 0o600);
}

/** Makes a new random root key and writes it with `extra`, sealed for `hsm`, to DIR/root.seal. */
export async function createRootKey(dir: string, hsm: SoftHsm, extra: Uint8Array): Promise<Uint8Array> {
  const root = randomBytes(ROOT_KEY_SIZE);
  await writeRootSeal(dir, root, extra, [hsm]);
  return root;
}

/** Unseals root.seal's bytes with `hsm`; HsmMismatchError when it is sealed for other HSM keys only. */
export function unsealRoot(dir: string, text: string, hsm: SoftHsm): Unsealed {
  const path = join(dir, ROOT_SEAL_FILE);
  let parsed: v.InferOutput<typeof RootSealFile>;
  try {
    parsed = v.parse(RootSealFile, JSON.parse(text));
  } catch {
    // valibot issues would quote the file's content.
    throw new DataDirError(`${path} is malformed: the data directory is damaged`);
  }
  const mismatch = () => new HsmMismatchError(`the HSM key does not match this data directory (${dir})`);
  let payload: Uint8Array;
  if (parsed.version === 1) {
    try {
      payload = hsm.unseal(decodeBase64(parsed.sealed), ROOT_KEY_LABEL);
    } catch {
      throw mismatch();
    }
  } else {
    const mine = parsed.seals.find((s) => s.hsm === hsm.fingerprint);
    if (!mine) throw mismatch();
    try {
      payload = hsm.openSealed(decodeBase64(mine.sealed), ROOT_KEY_LABEL);
    } catch {
      throw mismatch();
    }
  }
  const size = parsed.version === 1 ? payload.length : ROOT_KEY_SIZE;
  if (payload.length < ROOT_KEY_SIZE || size !== ROOT_KEY_SIZE) throw new DataDirError(`${path} holds a root key of the wrong size: the data directory is damaged`);
  const root = payload.slice(0, ROOT_KEY_SIZE);
  const extra = parsed.version === 1 ? null : payload.slice(ROOT_KEY_SIZE);
  payload.fill(0);
  const sealedFor = parsed.version === 1 ? [hsm.fingerprint] : parsed.seals.map((s) => s.hsm);
  return { root, extra, sealedFor, version: parsed.version };
}

/** Reads and unseals DIR/root.seal (synchronously: the CLI derives the admin key from it). */
export function readRootSeal(dir: string, hsm: SoftHsm): Unsealed {
  const path = join(dir, ROOT_SEAL_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DataDirError(`${path} is unreadable: the data directory is damaged`, { cause: err });
  }
  return unsealRoot(dir, text, hsm);
}

/** Reads and unseals DIR/root.seal; HsmMismatchError when the HSM key is not one it is sealed for. */
export function readRootKey(dir: string, hsm: SoftHsm): Promise<Uint8Array> {
  try {
    const { root, extra } = readRootSeal(dir, hsm);
    extra?.fill(0);
    return Promise.resolve(root);
  } catch (err) {
    return Promise.reject(err);
  }
}
