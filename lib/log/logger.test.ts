import assert from "node:assert/strict";
import { test } from "node:test";
import { Feeds } from "./feed.ts";
import { Level, Logger, type LogRecord } from "./logger.ts";

test("JSON lines by default (slog's names), text for people; below the level nothing", () => {
  const out: string[] = [];
  const log = new Logger();
  log.configure({ out: (l) => out.push(l) });
  log.info("cluster: node 1 joined", { node: 1 });
  log.debug("not shown");
  const rec = JSON.parse(out[0]);
  assert.deepEqual(Object.keys(rec), ["time", "level", "msg", "node"]);
  assert.equal(rec.level, "INFO");
  assert.ok(!Number.isNaN(Date.parse(rec.time)));
  assert.equal(out.length, 1);
  log.configure({ format: "text" });
  log.warn("disk slow", { path: "/var/lib/kms 0" });
  assert.match(out[1], /^\d{4}-\d\d-\d\dT[\d:.]+Z kms: WARN disk slow path="\/var\/lib\/kms 0"$/);
  assert.equal(log.counts.WARN, 1);
});

test("subscribers get every record; recent() replays the last ones since a time", () => {
  const log = new Logger();
  log.configure({ out: () => {} });
  const got: LogRecord[] = [];
  const stop = log.subscribe((r) => got.push(r));
  log.error("boom");
  stop();
  log.error("after");
  assert.deepEqual(got.map((r) => [r.msg, r.level]), [["boom", Level.error]]);
  assert.deepEqual(log.recent().map((r) => r.msg), ["boom", "after"]);
  assert.deepEqual(log.recent(Date.now() + 1000), []);
});

test("a stream whose reader falls behind drops what does not fit, and ends when the feeds close", async () => {
  const feeds = new Feeds();
  let push!: (n: number) => void;
  const stream = feeds.stream<number>({ subscribe: (p) => ((push = p), () => {}), encode: (n) => new Uint8Array([n]), queue: 2 });
  for (let i = 0; i < 5; i++) push(i);
  assert.equal(feeds.dropped, 3);
  assert.equal(feeds.size, 1);
  feeds.closeAll();
  const got: number[] = [];
  for await (const chunk of stream) got.push(...chunk);
  assert.deepEqual(got, [0, 1]);
  assert.equal(feeds.size, 0);
});
