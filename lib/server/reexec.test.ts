import assert from "node:assert/strict";
import { test } from "node:test";
import { keepingPort, ownArgs } from "./reexec.ts";

test("a restart runs the same arguments, keeping a port the system picked", () => {
  assert.deepEqual(ownArgs(["/usr/bin/bun", "/src/main.ts", "server", "DIR"]), ["/src/main.ts", "server", "DIR"]);
  assert.deepEqual(ownArgs(["bun", "/$bunfs/root/kms", "server", "DIR"]), ["server", "DIR"], "a compiled binary's embedded entry is not an argument");
  assert.deepEqual(keepingPort(["server", "--addr", "127.0.0.1:0", "DIR"], 41234), ["server", "--addr", "127.0.0.1:41234", "DIR"]);
  assert.deepEqual(keepingPort(["server", "--addr=:0", "DIR"], 7), ["server", "--addr=:7", "DIR"]);
  assert.deepEqual(keepingPort(["server", "--addr", ":7373", "DIR"], 7373), ["server", "--addr", ":7373", "DIR"]);
});
