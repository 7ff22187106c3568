/**
 * Snapshots that refer to the application's own durable state (Application.
 * reference): compactions store only the reference, and a follower that
 * needs the whole state is sent snapshot()'s bytes, never the reference.
 * Three real drivers over an in-process network whose links a test can cut.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Driver } from "./driver.ts";
import { RaftNode } from "./node.ts";
import { bootstrapState, freshState, MemoryStorage } from "./storage.ts";
import type { Entry, Message, Snapshot } from "./types.ts";

type Cmd = string;
const REF = new TextEncoder().encode("@ref");
const isRef = (d: Uint8Array) => d.length === REF.length && d.every((b, i) => b === REF[i]);

/** A list of applied commands whose snapshot is the list as JSON, and whose reference is REF. */
class RefApp {
  applied: Cmd[] = [];
  restored: Uint8Array[] = [];
  apply(entries: readonly Entry<Cmd>[]): Map<number, Error> {
    for (const e of entries) if (e.type === "cmd") this.applied.push(e.cmd);
    return new Map();
  }
  restore(s: Snapshot): void {
    this.restored.push(s.data);
    if (isRef(s.data)) throw new Error("a reference snapshot reached another node");
    this.applied = s.data.length ? JSON.parse(new TextDecoder().decode(s.data)) : [];
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied));
  }
  reference(): Uint8Array {
    return REF;
  }
  isReference(d: Uint8Array): boolean {
    return isRef(d);
  }
}

async function until(what: string, ok: () => boolean, d: Driver<Cmd>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await d.changed(20);
  }
}

test("compactions store a reference; a joining node is sent the whole state and catches up", { timeout: 60_000 }, async () => {
  const members = [{ id: 1, addr: "n1" }, { id: 2, addr: "n2" }];
  const sentSnapshots: Snapshot[] = [];
  const storages = [
    new MemoryStorage<Cmd>(bootstrapState<Cmd>(members, new Uint8Array())),
    new MemoryStorage<Cmd>(bootstrapState<Cmd>(members, new Uint8Array())),
    new MemoryStorage<Cmd>(freshState<Cmd>()),
  ];
  const apps = storages.map(() => new RefApp());
  const drivers: Driver<Cmd>[] = [];
  const fatal: unknown[] = [];
  const send = (messages: readonly Message<Cmd>[]) => {
    for (const m of messages) {
      if (m.type === "snapshot") sentSnapshots.push(m.snapshot);
      setTimeout(() => drivers[m.to - 1].step(m), 1);
    }
  };
  for (const [i, storage] of storages.entries()) {
    // Only node 1 stands: the others' election timeouts are long.
    const raft = new RaftNode<Cmd>({ id: i + 1, cluster: "t", random: () => 0, electionTicks: i === 0 ? 2 : 10_000, proposalTicks: 100_000 }, storage.load());
    drivers.push(new Driver(raft, storage, apps[i], send, (err) => fatal.push(err), { compact: (applied, snap) => applied - snap >= 5 }));
  }
  try {
    for (const d of drivers) d.start(5);
    await until("node 1 leads", () => drivers[0].status().role === "leader" && drivers[0].status().writable, drivers[0]);
    const cmds = Array.from({ length: 23 }, (_, i) => `c${i}`);
    for (const c of cmds) assert.equal((await drivers[0].propose(c)).ok, true);
    // The leader compacted, storing only the reference.
    const leaderSnap = storages[0].load().snapshot;
    assert.ok(leaderSnap.index > 5, `compacted to ${leaderSnap.index}`);
    assert.ok(isRef(leaderSnap.data), "the stored snapshot is the reference");
    assert.equal(sentSnapshots.length, 0);

    assert.equal((await drivers[0].proposeChange({ op: "add", id: 3, addr: "n3" })).ok, true);
    await until("node 3 caught up", () => apps[2].applied.length === cmds.length, drivers[0]);
    assert.deepEqual(apps[2].applied, cmds);
    assert.ok(apps[2].restored.length >= 1, "node 3 installed a snapshot");
    assert.ok(sentSnapshots.length >= 1 && sentSnapshots.every((s) => !isRef(s.data)), "only whole states left the leader");

    // Writes go on everywhere afterwards, and compactions go back to references.
    const more = ["d0", "d1", "d2", "d3", "d4", "d5"];
    for (const c of more) assert.equal((await drivers[0].propose(c)).ok, true);
    await until("node 3 has the later writes", () => apps[2].applied.length === cmds.length + more.length, drivers[0]);
    assert.deepEqual(apps[2].applied, apps[0].applied);
    await until("the leader compacts to a reference again", () => isRef(storages[0].load().snapshot.data), drivers[0]);
    assert.deepEqual(fatal, []);
  } finally {
    for (const d of drivers) await d.stop();
  }
});
