/**
 * Group commit: with a defer (the server's setImmediate), proposals made in
 * the same turn of the event loop share one Ready, so one storage write (one
 * disk transaction) appends them all, and they all commit together.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { Driver, type DriverOptions } from "./driver.ts";
import { RaftNode } from "./node.ts";
import { bootstrapState, MemoryStorage } from "./storage.ts";
import type { Entry, Persist, Snapshot } from "./types.ts";

type Cmd = string;

/** Memory storage that remembers how many entries each write appended. */
class CountingStorage extends MemoryStorage<Cmd> {
  readonly appends: number[] = [];
  override write(p: Persist<Cmd>): void {
    if (p.entries.length) this.appends.push(p.entries.filter((e) => e.type === "cmd").length);
    super.write(p);
  }
}

/**
 * The application: applied commands, and how many each apply() call got.
 * Synchronous, as the storage: the driver's loop then never waits, so without
 * a defer each proposal is handled to the end before the next is made.
 */
class ListApp {
  readonly applied: Cmd[] = [];
  readonly batches: number[] = [];
  apply(entries: readonly Entry<Cmd>[]): Map<number, Error> {
    const cmds = entries.filter((e) => e.type === "cmd");
    if (cmds.length) this.batches.push(cmds.length);
    for (const e of cmds) if (e.type === "cmd") this.applied.push(e.cmd);
    return new Map();
  }
  restore(_s: Snapshot): void {}
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
}

/** A single-node driver, leading, with `opts`; runs `fn`, then stops it. */
async function withLeader(opts: DriverOptions, fn: (d: Driver<Cmd>, s: CountingStorage, app: ListApp) => Promise<void>): Promise<void> {
  const members = [{ id: 1, addr: "n1" }];
  const storage = new CountingStorage(bootstrapState<Cmd>(members, new Uint8Array()));
  const app = new ListApp();
  const raft = new RaftNode<Cmd>({ id: 1, cluster: "t", random: () => 0, electionTicks: 2 }, storage.load());
  const fatal: unknown[] = [];
  const driver = new Driver(raft, storage, app, () => {}, (err) => fatal.push(err), opts);
  driver.start(5);
  try {
    const deadline = Date.now() + 20_000;
    while (!(driver.status().role === "leader" && driver.status().writable)) {
      if (Date.now() > deadline) throw new Error("no writable leader");
      await driver.changed(20);
    }
    storage.appends.length = 0;
    await fn(driver, storage, app);
    assert.deepEqual(fatal, []);
  } finally {
    await driver.stop();
  }
}

const cmds = Array.from({ length: 20 }, (_, i) => `c${i}`);

test("with a defer, proposals of one turn share one append and one apply, and each is answered with its own index", { timeout: 60_000 }, async () => {
  await withLeader({ defer: setImmediate }, async (driver, storage, app) => {
    const outcomes = await Promise.all(cmds.map((c) => driver.propose(c)));
    assert.deepEqual(storage.appends, [20], "one storage write appended all 20");
    assert.deepEqual(app.batches, [20], "one apply call got all 20");
    assert.deepEqual(app.applied, cmds, "in proposal order");
    const indexes = outcomes.map((o) => (o.ok ? o.index : -1));
    assert.deepEqual(indexes, indexes.map((_, i) => indexes[0] + i), "consecutive indexes, one per proposal");
  });
});

test("without a defer (the simulator's way), each proposal runs at once: one append each", { timeout: 60_000 }, async () => {
  await withLeader({}, async (driver, storage, app) => {
    await Promise.all(cmds.map((c) => driver.propose(c)));
    assert.deepEqual(storage.appends, cmds.map(() => 1));
    assert.deepEqual(app.applied, cmds);
  });
});
