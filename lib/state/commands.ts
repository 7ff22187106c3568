import * as v from "valibot";
import { NameSchema } from "./names.ts";

const Base64Key = v.pipe(v.string(), v.base64(), v.length(44)); // 32 bytes
const KeyTypeSchema = v.picklist(["AES256", "ChaCha20"]);
const Stamp = { at: v.pipe(v.number(), v.integer(), v.minValue(0)), by: v.string() };

/**
 * A state change. Commands carry everything apply() needs — timestamps,
 * fresh key material — so applying one is deterministic on every node.
 */
export const CommandSchema = v.variant("type", [
  v.object({ type: v.literal("enclave.create"), name: NameSchema, ...Stamp }),
  v.object({ type: v.literal("enclave.delete"), name: NameSchema }),
  v.object({
    type: v.literal("key.create"),
    enclave: NameSchema,
    name: NameSchema,
    keyType: KeyTypeSchema,
    material: Base64Key,
    addVersion: v.boolean(),
    ...Stamp,
  }),
  v.object({
    type: v.literal("key.delete"),
    enclave: NameSchema,
    name: NameSchema,
    version: v.pipe(v.number(), v.integer(), v.minValue(0)),
    allVersions: v.boolean(),
  }),
]);

/** A validated state change. */
export type Command = v.InferOutput<typeof CommandSchema>;
