import * as v from "valibot";

/** Enclave, key and policy names: 1–80 of [A-Za-z0-9_.-], not starting with '-' or '.'. */
export const NameSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/, "invalid name: use 1 to 80 characters of A-Z a-z 0-9 _ . - (not starting with - or .)"),
);

/** Validates a name; returns the first problem as a message, or undefined when valid. */
export function nameProblem(name: unknown): string | undefined {
  const r = v.safeParse(NameSchema, name);
  return r.success ? undefined : r.issues[0].message;
}

/** An identity: `h1:` + unpadded base64url of a SHA-256 (43 characters). */
export const IdentitySchema = v.pipe(
  v.string(),
  v.regex(/^h1:[A-Za-z0-9_-]{43}$/, "invalid identity: expected h1: followed by 43 base64url characters"),
);

/** A policy's name pattern: a name in which '*' matches any run of characters. */
export const PatternSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.*:-]{1,80}$/, "invalid policy: patterns are 1 to 80 characters of A-Z a-z 0-9 _ . - : *"),
);
