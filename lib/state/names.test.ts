import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { NameSchema, nameProblem } from "./names.ts";

const VALID = [
  "a",
  "Z",
  "0",
  "_",
  "_leading-underscore",
  "my-key",
  "my.key",
  "my_key",
  "MiXeD.123-_",
  "a..b",
  "a-",
  "a.",
  "x".repeat(80),
  "9" + ".".repeat(79),
];

const INVALID: Array<[string, unknown]> = [
  ["empty", ""],
  ["81 characters", "x".repeat(81)],
  ["a slash", "a/b"],
  ["only a slash", "/"],
  ["a leading '-'", "-key"],
  ["a leading '.'", ".key"],
  ["'..'", ".."],
  ["'.'", "."],
  ["unicode letters", "ключ"],
  ["an accented letter", "café"],
  ["an emoji", "key🔑"],
  ["a space", "my key"],
  ["a leading space", " key"],
  ["a trailing newline", "key\n"],
  ["a NUL", "key\0"],
  ["a colon", "h1:abc"],
  ["a star", "key*"],
  ["a backslash", "a\\b"],
  ["a percent escape", "a%2Fb"],
  ["not a string", 42],
  ["undefined", undefined],
  ["null", null],
];

test("valid names pass NameSchema and have no problem", () => {
  for (const name of VALID) {
    assert.equal(nameProblem(name), undefined, JSON.stringify(name));
    assert.equal(v.parse(NameSchema, name), name);
  }
});

test("invalid names are refused with a message", () => {
  for (const [what, name] of INVALID) {
    const problem = nameProblem(name);
    assert.equal(typeof problem, "string", `${what} must be refused`);
    assert.ok(problem!.length > 0);
    assert.equal(v.safeParse(NameSchema, name).success, false, what);
  }
});

test("the message for a bad string explains the rule without echoing the input", () => {
  const problem = nameProblem("bad/name-with-a-secret-ish-tail");
  assert.match(problem!, /80/);
  assert.doesNotMatch(problem!, /secret-ish/);
});
