import * as v from "valibot";
import { encrypt } from "../../crypto/ciphertext.ts";
import { BudgetExceededError, decryptWithVersions } from "../../crypto/keyring.ts";
import { hkdf } from "../../crypto/hkdf.ts";
import { mac } from "../../crypto/mac.ts";
import { randomBytes } from "../../crypto/random.ts";
import { encodeBase64 } from "../../encoding/base64.ts";
import { Errors } from "../../state/errors.ts";
import type { BoundRing } from "../../state/key-rings.ts";
import type { KeyRing, KeyVersion } from "../../state/types.ts";
import { versionOf } from "../../state/state.ts";
import { Obj } from "../../node/pending.ts";
import { command, type CommandContext } from "./command.ts";
import { wireCommand } from "../../wire/commands.ts";
import { timestamp } from "../../wire/proto.ts";
import { Bytes, ListSchema, listPage, Name, Version } from "./schemas.ts";

const KeyType = v.pipe(
  v.picklist(["", "AES256", "ChaCha20"], "invalid key type: use AES256 or ChaCha20"),
  v.transform((t) => (t === "" ? "AES256" : t) as "AES256" | "ChaCha20"),
);
const MAX_GENERATE = 1024;
/** Bytes KEY:DERIVE hands out: 32 by default, up to two keys' worth. */
const MAX_DERIVE = 64;
const DERIVE_INFO = new TextEncoder().encode("kms/v1/derive:");

/**
 * KEY:DERIVE's output: HKDF-SHA256 over the version's bytes, salted with the
 * key's binding (enclave and name) and labelled apart from the MAC sub-key,
 * so no KEY:MAC answer ever equals a derived key.
 */
export function deriveFromKey(material: Uint8Array, binding: Uint8Array, context: Uint8Array, length: number): Uint8Array {
  const info = new Uint8Array(DERIVE_INFO.length + context.length);
  info.set(DERIVE_INFO);
  info.set(context, DERIVE_INFO.length);
  return hkdf(material, binding, info, length);
}

/** Decrypts with a ring (version 0: the one the ciphertext names) within the request's budget; 400 when it does not open. */
function open(ctx: CommandContext, key: BoundRing, version: number, ciphertext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  let plaintext;
  try {
    plaintext = decryptWithVersions(key.ring.versions, version, ciphertext, associatedData, key.binding, ctx.budget);
  } catch (err) {
    if (err instanceof BudgetExceededError) throw Errors.tooMuchWork();
    throw err;
  }
  if (!plaintext) throw Errors.invalidCiphertext();
  return plaintext;
}

/** The KeyStatusResponse of one key version. */
export function keyStatus(ring: KeyRing, kv: KeyVersion) {
  return { name: ring.name, version: kv.version, type: kv.type, created_at: timestamp(kv.createdAt), created_by: kv.createdBy };
}

/** KEY:* commands (201–208, 210) and kms's KEY:DERIVE (1201) and KEY:REWRAP (1202). */
export const keyCommands = [
  command({
    ...wireCommand("KEY:CREATE"), write: true,
    resource: (req) => req.name,
    schema: v.object({ name: Name, type: KeyType, add_version: v.boolean() }),
    run: (ctx, req) =>
      ctx.node.write({
        type: "key.create", enclave: ctx.enclave, name: req.name, keyType: req.type, material: encodeBase64(randomBytes(32)),
        addVersion: req.add_version, at: Date.now(), by: ctx.identity,
      }),
  }),
  command({
    ...wireCommand("KEY:DELETE"), write: true,
    resource: (req) => req.name,
    schema: v.object({ name: Name, version: Version, all_versions: v.boolean() }),
    run: (ctx, req) =>
      ctx.node.write({
        type: "key.delete", enclave: ctx.enclave, name: req.name, version: req.version, allVersions: req.all_versions, ...ctx.node.deletionStamp(ctx.identity),
      }),
  }),
  command({
    ...wireCommand("KEY:IMPORT"), write: true,
    resource: (req) => req.name,
    schema: v.object({ name: Name, type: KeyType, key: v.pipe(Bytes, v.length(32, "invalid key: must be 32 bytes")) }),
    run: (ctx, req) =>
      ctx.node.write({
        type: "key.create", enclave: ctx.enclave, name: req.name, keyType: req.type, material: encodeBase64(req.key),
        addVersion: false, imported: true, at: Date.now(), by: ctx.identity,
      }),
  }),
  command({
    ...wireCommand("KEY:STATUS"), write: false,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    schema: v.object({ name: Name, version: Version }),
    run: (ctx, req) => {
      const ring = ctx.node.state.keyRing(ctx.enclave, req.name);
      return keyStatus(ring, versionOf(ring, req.version));
    },
  }),
  command({
    ...wireCommand("KEY:ENCRYPT"), write: false,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    schema: v.object({ name: Name, version: Version, plaintext: Bytes, associated_data: Bytes }),
    run: (ctx, req) => {
      return ctx.node.state.withKey(ctx.enclave, req.name, req.version, (kv, binding) =>
        ({ version: kv.version, ciphertext: encrypt(kv.type, kv.material, kv.version, req.plaintext, req.associated_data, binding) }));
    },
  }),
  command({
    ...wireCommand("KEY:DECRYPT"), write: false,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    schema: v.object({ name: Name, version: Version, ciphertext: Bytes, associated_data: Bytes }),
    run: (ctx, req) => {
      const key = ctx.node.state.usableBound(ctx.enclave, req.name);
      if (req.version !== 0) versionOf(key.ring, req.version); // 404 like ENCRYPT
      return { plaintext: open(ctx, key, req.version, req.ciphertext, req.associated_data) };
    },
  }),
  command({
    ...wireCommand("KEY:GENERATE"), write: false,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    schema: v.object({
      name: Name, version: Version, associated_data: Bytes,
      length: v.pipe(v.number(), v.maxValue(MAX_GENERATE, `invalid length: at most ${MAX_GENERATE} bytes`)),
    }),
    run: (ctx, req) => {
      return ctx.node.state.withKey(ctx.enclave, req.name, req.version, (kv, binding) => {
        const plaintext = randomBytes(req.length === 0 ? 32 : req.length);
        return { version: kv.version, plaintext, ciphertext: encrypt(kv.type, kv.material, kv.version, plaintext, req.associated_data, binding) };
      });
    },
  }),
  command({
    ...wireCommand("KEY:LIST"), write: false,
    reads: (e) => [Obj.keys(e)],
    schema: ListSchema,
    run: (ctx, req) => {
      const p = listPage(ctx, "KEY:LIST", ctx.node.state.enclave(ctx.enclave).keys, req);
      return { keys: p.items.map((r) => keyStatus(r, r.versions[r.versions.length - 1])), continue_at: p.continueAt };
    },
  }),
  command({
    ...wireCommand("KEY:MAC"), write: false,
    resource: (req) => req.name,
    reads: (e, req) => [Obj.key(e, req.name)],
    schema: v.object({ name: Name, version: Version, message: Bytes }),
    run: (ctx, req) => {
      // Not withKey(): mac() keeps a sub-key per material array, which scratch arrays would mix up.
      const kv = versionOf(ctx.node.state.usableKey(ctx.enclave, req.name), req.version);
      return { version: kv.version, mac: mac(kv.material, req.message) };
    },
  }),
  command({
    // A kms extension: key material for a service (kms edge) that must hold a
    // key of its own; a distinct command so that KEY:MAC does not grant it.
    ...wireCommand("KEY:DERIVE"), write: false,
    resource: (req) => req.name,
    schema: v.object({
      name: Name, version: Version, context: v.pipe(Bytes, v.maxLength(1024, "invalid context: at most 1024 bytes")),
      length: v.pipe(v.number(), v.check((n) => n === 0 || (n >= 16 && n <= MAX_DERIVE), `invalid length: 16 to ${MAX_DERIVE} bytes`)),
    }),
    run: (ctx, req) => {
      return ctx.node.state.withKey(ctx.enclave, req.name, req.version, (kv, binding) =>
        ({ version: kv.version, key: deriveFromKey(kv.material, binding, req.context, req.length || 32) }));
    },
  }),
  command({
    // A kms extension, the native ReEncrypt: a ciphertext of key `name` (any
    // version) becomes one of `new_name`'s latest version (default: the same
    // key, i.e. moved to its latest version), with the same associated data;
    // the plaintext never leaves the server. Needs KEY:REWRAP on both keys.
    ...wireCommand("KEY:REWRAP"), write: false,
    resource: (req) => req.name,
    alsoOn: (req) => req.new_name || req.name,
    reads: (e, req) => [Obj.key(e, req.name), Obj.key(e, req.new_name || req.name)],
    schema: v.object({ name: Name, ciphertext: Bytes, associated_data: Bytes, new_name: v.union([v.literal(""), Name]) }),
    run: (ctx, req) => {
      const to = req.new_name || req.name;
      const target = ctx.node.state.usableBound(ctx.enclave, to);
      const plaintext = open(ctx, ctx.node.state.usableBound(ctx.enclave, req.name), 0, req.ciphertext, req.associated_data);
      try {
        const kv = target.ring.versions[target.ring.versions.length - 1];
        return { name: to, version: kv.version, ciphertext: encrypt(kv.type, kv.material, kv.version, plaintext, req.associated_data, target.binding) };
      } finally {
        plaintext.fill(0);
      }
    },
  }),
];
