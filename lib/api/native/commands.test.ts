import { test } from "node:test";
import assert from "node:assert/strict";
import { WIRE_COMMANDS } from "../../wire/commands.ts";
import { COMMANDS } from "./commands.ts";

test("every command of the wire table has one handler, and every handler a line in the table", () => {
  assert.deepEqual([...COMMANDS.values()].map((c) => c.name).sort(), [...WIRE_COMMANDS.keys()].sort());
  assert.equal(new Set([...WIRE_COMMANDS.values()].map((c) => c.id)).size, WIRE_COMMANDS.size, "ids are unique");
  for (const spec of COMMANDS.values()) {
    const { id, name, request, response, inEnclave } = spec;
    assert.deepEqual({ id, name, request, response, inEnclave }, { response: undefined, ...WIRE_COMMANDS.get(name as never) }, name);
  }
});
