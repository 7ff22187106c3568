/**
 * The KES API's backend in edge mode: master keys from an external key store
 * through the cache, KES-format ciphertexts, KES's path-pattern policies.
 * While the store is unreachable, create/import/delete/list fail fast with
 * 502 and crypto keeps working from the cache for cache.expiry.offline.
 */
import { createHmac } from "node:crypto";
import type { KesBackend, KesPolicy } from "../api/kes/backend.ts";
import { kesHexOf } from "../identity/kes.ts";
import { decryptKes, encryptKes } from "../crypto/kes.ts";
import { mac } from "../crypto/mac.ts";
import type { KeyType } from "../crypto/message-key.ts";
import { randomBytes } from "../crypto/random.ts";
import { Errors, KmsError } from "../state/errors.ts";
import type { KeyCache } from "./cache.ts";
import { KeyFormatError } from "./keyformat.ts";
import { KeyExistsError, KeyNotFoundError, type KeyStore, KeyStoreError, type MasterKey } from "./keystore.ts";
import type { EdgeAccess } from "./policy.ts";

const everything = { visible: () => true };

/** Maps key store errors to the API's errors; logs store failures (never key bytes). */
function storeError(err: unknown, log: (msg: string) => void): never {
  if (err instanceof KmsError) throw err;
  if (err instanceof KeyNotFoundError) throw Errors.keyNotFound();
  if (err instanceof KeyExistsError) throw Errors.keyExists();
  if (err instanceof KeyStoreError) {
    log(err.message);
    throw err.unreachable ? Errors.keyStoreUnreachable() : Errors.keyStoreFailed("key store error: the key store failed the request");
  }
  if (err instanceof KeyFormatError) {
    log(err.message);
    throw Errors.keyStoreFailed("key store error: the stored key is not valid");
  }
  throw err;
}

export interface EdgeBackendOptions {
  readonly store: KeyStore;
  readonly cache: KeyCache;
  /** The current access rules (a config reload replaces them). */
  readonly access: () => EdgeAccess;
  readonly logError: (msg: string) => void;
  /** When the server started (ms since the epoch). */
  readonly startedAt: number;
}

/** A KesBackend over a key store and its cache. */
export function edgeBackend(opts: EdgeBackendOptions): KesBackend {
  const { store, cache } = opts;
  const fail = (err: unknown) => storeError(err, opts.logError);
  const key = async (name: string): Promise<MasterKey> => {
    try {
      return await cache.get(name);
    } catch (err) {
      return fail(err);
    }
  };
  /** Writes and listings need the store itself: fail fast while it is unreachable. */
  const needStore = () => {
    if (!cache.online) throw Errors.keyStoreUnreachable();
  };
  const write = async <T>(run: () => Promise<T>): Promise<T> => {
    needStore();
    try {
      const out = await run();
      cache.observe();
      return out;
    } catch (err) {
      cache.observe(err);
      return fail(err);
    }
  };
  const create = (name: string, type: KeyType, material: Uint8Array, by: string) =>
    write(async () => {
      const stored = await store.create(name, { type, material, hmacKey: randomBytes(32), createdAt: Date.now(), createdBy: kesHexOf(by) });
      cache.put(name, stored);
    });

  // KES dates the config's policies from the server's start, created by its admin.
  const policies = (): ReadonlyMap<string, KesPolicy> => {
    const access = opts.access();
    return new Map([...access.policies].map(([name, p]) => [name, { name, allow: p.allow, deny: p.deny, createdAt: opts.startedAt, createdBy: access.admin ?? "" }]));
  };

  return {
    isKnown: (identity) => opts.access().isKnown(identity),
    authorize: (identity, req) => (opts.access().allows(identity, req.path) ? everything : undefined),

    create: (name, by) => create(name, "AES256", randomBytes(32), by),
    import: (name, material, type, by) => create(name, type, material.slice(), by),

    async describe(name) {
      const k = await key(name);
      return { name, algorithm: k.type, createdAt: k.createdAt, createdBy: k.createdBy };
    },

    list: (prefix, continueAt, limit, visible) =>
      write(async () => {
        const names = (await store.list(prefix)).filter((n) => n >= continueAt && visible(n)).sort();
        return { names: names.slice(0, limit), continueAt: names.length > limit ? names[limit] : "" };
      }),

    delete: (name) =>
      write(async () => {
        await store.delete(name);
        cache.invalidate(name);
      }),

    async generate(name, context) {
      const k = await key(name);
      const plaintext = randomBytes(32);
      return { plaintext, ciphertext: encryptKes(k.type, k.material, plaintext, context) };
    },

    async encrypt(name, plaintext, context) {
      const k = await key(name);
      return encryptKes(k.type, k.material, plaintext, context);
    },

    async decrypt(name, ciphertext, context) {
      const k = await key(name);
      const plaintext = decryptKes(k.type, k.material, ciphertext, context);
      if (!plaintext) throw Errors.invalidCiphertext();
      return plaintext;
    },

    async hmac(name, message) {
      const k = await key(name);
      // KES keys carry their own HMAC key; legacy keys get a MAC sub-key derived from the secret.
      return k.hmacKey ? new Uint8Array(createHmac("sha256", k.hmacKey).update(message).digest()) : mac(k.material, message);
    },

    storeStatus: () => ({ latencyMs: cache.latencyMs, unreachable: !cache.online }),
    ready: () => cache.online,

    self(identity) {
      const access = opts.access();
      const admin = identity === access.admin;
      return { identity, admin, policy: admin ? undefined : policies().get(access.policyName(identity)), createdAt: opts.startedAt, createdBy: access.admin ?? "" };
    },

    policies,
  };
}
