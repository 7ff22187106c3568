import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Entry } from "../cluster/types.ts";
import { applyEntries } from "../node/apply-entries.ts";
import type { Command } from "../state/commands.ts";
import { KmsError } from "../state/errors.ts";
import { encodeSnapshot } from "../state/records.ts";
import { State } from "../state/state.ts";
import { allMaterial } from "../node/wipe.ts";
import { ReplicaNode, replicaState } from "./replica.ts";
import { SharedFlags } from "./thread-messages.ts";
import { ServeElsewhere } from "../node/node.ts";

const ADMIN = "h1:" + "A".repeat(43);
const stamp = { at: 1, by: ADMIN };
const material = (n: number) => Buffer.alloc(32, n).toString("base64");
const info = { version: "test", host: "h:1", startedAt: 0, adminIdentity: ADMIN, tickMs: 0, electionTicks: 0 };

let index = 1;
const entry = (cmd: Command): Entry<Command> => ({ index: index++, term: 1, type: "cmd", cmd });
const key = (name: string, n: number): Command => ({ type: "key.create", enclave: "e", name, keyType: "AES256", material: material(n), addVersion: false, ...stamp });

/** A replica at the main state's index, and the shared flags the main thread would publish. */
function pair(): { main: State; replica: ReplicaNode; flags: SharedFlags } {
  const main = new State();
  applyEntries(main, [entry({ type: "enclave.create", name: "e", ...stamp })]);
  const flags = new SharedFlags();
  const replica = new ReplicaNode(replicaState(encodeSnapshot(main), main.applied), info, flags);
  flags.publish(main.applied, true, true);
  return { main, replica, flags };
}

test("a replica fed the main thread's batches in commit order holds the same state, failed commands included", () => {
  const { main, replica } = pair();
  const batches = [
    [entry(key("a", 1)), entry(key("b", 2))],
    [entry(key("a", 3))], // fails (exists) on both: the same error, nothing changed
    [entry({ type: "key.delete", enclave: "e", name: "b", version: 0, allVersions: true }), entry(key("c", 4))],
  ];
  for (const b of batches) {
    const errors = applyEntries(main, b).errors;
    replica.feed(b);
    assert.equal(errors.size, b === batches[1] ? 1 : 0);
  }
  assert.equal(replica.state.applied, main.applied);
  assert.deepEqual(encodeSnapshot(replica.state), encodeSnapshot(main));
  assert.deepEqual([...replica.state.enclave("e").keys.keys()].sort(), ["a", "c"]);
});

test("the barrier answers at once when the replica holds what the main thread held, and waits for it otherwise", async () => {
  const { main, replica, flags } = pair();
  await replica.readBarrier([]);
  assert.equal(replica.current(), true);
  // The main thread holds (or applied) an entry this replica has not seen: a read starting now waits for it.
  const next = [entry(key("k", 5))];
  applyEntries(main, next);
  flags.publish(main.applied, true, true);
  assert.equal(replica.current(), false);
  let done = false;
  const waiting = replica.readBarrier([]).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, "answered before the replica had the entry");
  replica.feed(next);
  await waiting;
  assert.ok(replica.state.enclave("e").keys.get("k"), "the read after the barrier sees the entry");
});

test("a replica that does not catch up at once hands the request to the main thread rather than refusing it", async () => {
  // A write the main thread holds but cannot commit (the cluster has no leader): the main thread's
  // barrier lets reads of other objects through; the replica cannot tell which, so it must not answer 503.
  const { main, replica, flags } = pair();
  flags.publish(main.applied + 1, true, true);
  await assert.rejects(replica.readBarrier(["key/e/a"]), (err) => err instanceof ServeElsewhere);
});

test("a node not serving reads (starting, joining, catching up) is refused in every thread", async () => {
  const { replica, flags } = pair();
  flags.publish(replica.state.applied, false, true);
  assert.equal(replica.current(), false);
  await assert.rejects(replica.readBarrier([]), (err) => err instanceof KmsError && err.kind === "unavailable");
});

test("a replaced state (a restore) wakes what waits on it; caughtUp gives up after its deadline", async () => {
  const { main, replica, flags } = pair();
  flags.publish(main.applied + 10, true, true);
  assert.equal(await replica.caughtUp(main.applied + 10, 10), false);
  const waiting = replica.caughtUpNow(5_000);
  const restored = new State();
  restored.applied = main.applied + 10;
  replica.replace(restored);
  assert.equal(await waiting, true);
});

test("a stopping replica zeroes the key material it holds, rings never used and used ones alike", () => {
  const { main } = pair();
  applyEntries(main, [entry(key("a", 1)), entry(key("b", 2))]);
  const fresh = new ReplicaNode(replicaState(encodeSnapshot(main), main.applied), info, new SharedFlags());
  const used = fresh.state.enclaves.get("e")!.keys.get("a")!; // parsed on use; "b" stays its record's bytes
  const material = used.versions[0].material;
  assert.ok(material.some((b) => b !== 0));
  fresh.wipe();
  assert.ok(material.every((b) => b === 0), "a used key's material is zeroed");
  assert.equal(allMaterial(fresh.state).every((m) => m.every((b) => b === 0)), true, "every material array is zeroed");
});

test("a replaced replica state (a restore on the main thread) has its key material zeroed", () => {
  const { main } = pair();
  applyEntries(main, [entry(key("a", 1)), entry(key("b", 2))]);
  const fresh = new ReplicaNode(replicaState(encodeSnapshot(main), main.applied), info, new SharedFlags());
  fresh.state.enclaves.get("e")!.keys.get("a"); // one ring parsed on use, the other still its record's bytes
  const old = allMaterial(fresh.state);
  assert.ok(old.length >= 2 && old.every((m) => m.some((b) => b !== 0)));
  fresh.replace(replicaState(encodeSnapshot(main), main.applied));
  assert.ok(old.every((m) => m.every((b) => b === 0)), "the replaced state's material is zeroed");
  assert.ok(allMaterial(fresh.state).every((m) => m.some((b) => b !== 0)), "the new state's is intact");
  assert.ok(fresh.state.enclaves.get("e")!.keys.get("b")!.versions[0].material.some((b) => b !== 0));
});
