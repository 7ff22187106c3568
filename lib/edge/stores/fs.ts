/**
 * The fs key store: one file per key in a directory, named by the key and
 * holding KES's text form. A create writes a private temporary file, syncs
 * it, then hard-links it to the key's name, which fails if the name exists:
 * the key appears whole or not at all, and two creates cannot both win.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { decodeKey, encodeKey } from "../keyformat.ts";
import { isKeyName, KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey, reason } from "../keystore.ts";

export class FsKeyStore implements KeyStore {
  readonly kind = "fs";
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (creating, mode 0755) the directory. */
  static async open(dir: string): Promise<FsKeyStore> {
    const abs = path.resolve(dir);
    await mkdir(abs, { recursive: true, mode: 0o755 });
    return new FsKeyStore(abs);
  }

  #file(name: string): string {
    if (!isKeyName(name)) throw new KeyNotFoundError(); // never a path outside the directory
    return path.join(this.#dir, name);
  }

  async status() {
    const started = performance.now();
    try {
      if (!(await stat(this.#dir)).isDirectory()) throw new Error("not a directory");
    } catch (err) {
      throw new KeyStoreError(`fs key store ${this.#dir}: ${reason(err)}`);
    }
    return { latencyMs: Math.round(performance.now() - started) };
  }

  async create(name: string, key: MasterKey): Promise<MasterKey> {
    const file = this.#file(name);
    const tmp = path.join(this.#dir, `.${name}.${randomBytes(8).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await fh.writeFile(encodeKey(key));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new KeyExistsError();
      throw new KeyStoreError(`fs key store: cannot create ${name}: ${reason(err)}`, false);
    } finally {
      await unlink(tmp).catch(() => {});
    }
    return key;
  }

  async get(name: string): Promise<MasterKey> {
    let text: string;
    try {
      text = await readFile(this.#file(name), "utf8");
    } catch (err) {
      if (err instanceof KeyNotFoundError || (err as NodeJS.ErrnoException).code === "ENOENT") throw new KeyNotFoundError();
      throw new KeyStoreError(`fs key store: cannot read ${name}: ${reason(err)}`, false);
    }
    return decodeKey(text);
  }

  async delete(name: string): Promise<void> {
    try {
      await unlink(this.#file(name));
    } catch (err) {
      if (err instanceof KeyNotFoundError || (err as NodeJS.ErrnoException).code === "ENOENT") throw new KeyNotFoundError();
      throw new KeyStoreError(`fs key store: cannot delete ${name}: ${reason(err)}`, false);
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter((n) => n.startsWith(prefix) && isKeyName(n));
    } catch (err) {
      throw new KeyStoreError(`fs key store: cannot list ${this.#dir}: ${reason(err)}`);
    }
  }

  async close(): Promise<void> {}
}
