import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { SoftHsm } from "../hsm/soft.ts";
import type { AuditEvent } from "./record.ts";
import { NameSealer } from "./seal.ts";
import { AuditTrail, trailFiles } from "./trail.ts";
import { verifyTrail } from "./verify.ts";

const event = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  time: Date.UTC(2025, 0, 1) + i, node: "n0", id: `r${i}`, identity: "h1:caller", ip: "127.0.0.1", api: "native", method: "POST",
  command: "KEY:GENERATE", enclave: "tenant-1", object: `key-${i % 3}`, ops: 1000, status: 200, ms: 1.5, ...over,
});

/** A trail of `n` requests in `dir`, closed; small files so it rotates. */
async function writeTrail(dir: string, n: number, opts: { seal?: (s: string) => string; maxFileBytes?: number } = {}): Promise<void> {
  const trail = await AuditTrail.open({ dir, node: () => "n0", flushMs: 5, maxFileBytes: opts.maxFileBytes ?? 2_000, seal: opts.seal });
  for (let i = 0; i < n; i++) {
    trail.append(event(i));
    if (i % 7 === 0) await trail.flush();
  }
  await trail.close();
}

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kms-audit-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** All lines of the trail, with the file each is in. */
function lines(dir: string): Array<{ file: string; line: string }> {
  return readdirSync(dir).sort().flatMap((file) => readFileSync(path.join(dir, file), "utf8").split("\n").filter(Boolean).map((line) => ({ file, line })));
}

/** Rewrites the trail files from lines (keeping each line in its file). */
function rewrite(dir: string, all: Array<{ file: string; line: string }>): void {
  for (const f of readdirSync(dir)) writeFileSync(path.join(dir, f), all.filter((l) => l.file === f).map((l) => l.line + "\n").join(""));
}

test("a closed trail verifies: every record chained, across rotated files", withDir(async (dir) => {
  await writeTrail(dir, 40);
  const files = await trailFiles(dir);
  assert.ok(files.length >= 3, `rotated into ${files.length} files`);
  const v = await verifyTrail(dir);
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.records, 42, "40 requests, the open and the close marker");
  assert.equal(v.firstSeq, 1);
  assert.equal(v.lastSeq, 42);
}));

test("a reopened trail carries the chain on, and says how the last run ended", withDir(async (dir) => {
  await writeTrail(dir, 5);
  await writeTrail(dir, 5);
  const v = await verifyTrail(dir);
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  const opens = lines(dir).map((l) => JSON.parse(l.line)).filter((r) => r.event === "open");
  assert.deepEqual(opens.map((r) => r.after), ["new", "closed"]);
}));

test("edited, deleted, swapped and truncated records are each caught, with where", withDir(async (dir) => {
  await writeTrail(dir, 30);
  const original = lines(dir);
  const target = original[10];
  const check = async (what: string, change: (all: typeof original) => typeof original, expect: RegExp, seq?: number) => {
    rewrite(dir, change(original.map((l) => ({ ...l }))));
    const v = await verifyTrail(dir);
    assert.equal(v.ok, false, `${what} is caught`);
    assert.ok(v.problems.some((p) => expect.test(p.what) && (seq === undefined || p.seq === seq)), `${what}: ${JSON.stringify(v.problems)}`);
    rewrite(dir, original);
  };
  await check("an edited status", (all) => {
    all[10].line = all[10].line.replace('"status":200', '"status":403');
    return all;
  }, /^edited/, 11);
  await check("an edit with its own hash recomputed", (all) => {
    const body = all[10].line.replace('"ops":1000', '"ops":1');
    const bare = body.slice(0, body.lastIndexOf(',"hash":"')) + "}";
    all[10].line = `${bare.slice(0, -1)},"hash":"${createHash("sha256").update(bare).digest("hex")}"}`;
    return all;
  }, /does not follow seq 11/, 12);
  await check("a deleted record", (all) => all.filter((l) => l !== all[10]), /records missing before this one: seq jumps from 10 to 12/, 12);
  await check("two swapped records", (all) => {
    const [a, b] = [all[10].line, all[11].line];
    all[10].line = b;
    all[11].line = a;
    return all;
  }, /out of order: seq 11 after seq 12/, 11);
  await check("records cut from the end", (all) => all.slice(0, -3), /ends at seq \d+ without a close record/);
  assert.equal(target.file, original[10].file);
  // A line cut in the middle (the file truncated mid-record).
  const last = path.join(dir, original[original.length - 1].file);
  const size = readFileSync(last).length;
  truncateSync(last, size - 40);
  const v = await verifyTrail(dir);
  assert.ok(v.problems.some((p) => /ends with an incomplete line/.test(p.what) && p.file === path.basename(last)), JSON.stringify(v.problems));
}));

test("a crash mid-write leaves a torn line; the next run goes on in a new file and the trail still verifies", withDir(async (dir) => {
  await writeTrail(dir, 5);
  const [file] = await trailFiles(dir);
  const all = readFileSync(path.join(dir, file), "utf8").split("\n").filter(Boolean);
  // The close marker was never written, and the last record only half.
  writeFileSync(path.join(dir, file), all.slice(0, -2).join("\n") + "\n" + all[all.length - 2].slice(0, 50));
  await writeTrail(dir, 3);
  const v = await verifyTrail(dir);
  assert.deepEqual(v.problems, []);
  assert.ok(v.notes.some((n) => /incomplete line/.test(n)), JSON.stringify(v.notes));
  const opens = lines(dir).map((l) => JSON.parse(l.line.endsWith("}") ? l.line : "{}")).filter((r) => r.event === "open");
  assert.deepEqual(opens.map((r) => r.after), ["new", "crashed"]);
  assert.equal(opens[1].torn, 50);
}));

test("names are sealed on disk and unseal with the HSM key only", withDir(async (dir) => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const sealer = new NameSealer(hsm);
  await writeTrail(dir, 6, { seal: (s) => sealer.seal(s) });
  const text = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8")).join("");
  assert.ok(!text.includes("tenant-1") && !text.includes("key-1"), "no name in the clear");
  const rec = lines(dir).map((l) => JSON.parse(l.line)).find((r) => r.command === "KEY:GENERATE")!;
  assert.equal(sealer.unseal(rec.enclave), "tenant-1");
  assert.equal(sealer.seal("tenant-1"), rec.enclave, "a name always seals the same");
  assert.equal(new NameSealer(SoftHsm.parse(SoftHsm.generate())).unseal(rec.enclave), undefined, "another HSM key opens nothing");
  assert.equal((await verifyTrail(dir)).ok, true);
}));
