import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { SoftHsm } from "../hsm/soft.ts";
import type { AuditEvent } from "./record.ts";
import { NameSealer, trailMac } from "./seal.ts";
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

/** Re-chains every line from scratch after `change`, as someone with write access but no HSM key could. */
function rechain(dir: string, change: (fields: Record<string, unknown>[]) => void): void {
  const all = lines(dir);
  const fields = all.map((l) => {
    const { hash: _, ...rest } = JSON.parse(l.line);
    return rest as Record<string, unknown>;
  });
  change(fields);
  let prev = "0".repeat(64);
  const out = fields.map((f, i) => {
    const body = JSON.stringify({ ...f, seq: i + 1, prev });
    prev = createHash("sha256").update(body).digest("hex");
    return { file: all[Math.min(i, all.length - 1)].file, line: `${body.slice(0, -1)},"hash":"${prev}"}` };
  });
  rewrite(dir, out);
}

test("a server's trail is sealed: a chain rewritten without the HSM key passes the keyless check but not the sealed one", withDir(async (dir) => {
  const hsm = SoftHsm.parse(SoftHsm.generate());
  const mac = trailMac(hsm);
  const trail = await AuditTrail.open({ dir, node: () => "n0", flushMs: 5, mac, sealMs: 0 });
  for (let i = 0; i < 20; i++) {
    trail.append(event(i));
    if (i % 5 === 4) await trail.flush();
  }
  await trail.close();
  const markers = lines(dir).map((l) => JSON.parse(l.line)).filter((r) => r.event);
  assert.deepEqual(markers.map((r) => r.event), ["open", "seal", "seal", "seal", "seal", "close"], "a seal after each group of records");
  assert.ok(markers.every((r) => /^[0-9a-f]{64}$/.test(r.mac)), "every marker carries a mac");
  const good = await verifyTrail(dir, { mac });
  assert.deepEqual(good.problems, []);
  assert.equal(good.seals, 6);

  // An edit, re-chained from scratch: every hash and seq is right again.
  rechain(dir, (f) => (f[3].status = 204));
  assert.equal((await verifyTrail(dir)).ok, true, "the keyless check cannot see a rewritten chain");
  const rewritten = await verifyTrail(dir, { mac });
  assert.equal(rewritten.ok, false);
  assert.match(rewritten.problems[0].what, /seal does not verify under the HSM key/);
  assert.equal(rewritten.problems[0].seq, 7, "the first seal after the edit");
  // Another HSM key's seals do not verify either.
  const other = trailMac(SoftHsm.parse(SoftHsm.generate()));
  assert.equal((await verifyTrail(dir, { mac: other })).ok, false);
}));

test("records added after the last seal are caught with the key; a running trail seals them within sealMs", withDir(async (dir) => {
  const mac = trailMac(SoftHsm.parse(SoftHsm.generate()));
  const trail = await AuditTrail.open({ dir, node: () => "n0", flushMs: 5, mac, sealMs: 50 });
  trail.append(event(1));
  await trail.flush();
  trail.append(event(2));
  await trail.flush();
  // No more requests: the seal still comes, from its timer.
  const deadline = Date.now() + 10_000;
  while (lines(dir).at(-1)?.line.includes('"event":"seal"') !== true) {
    assert.ok(Date.now() < deadline, "a seal within the deadline");
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual((await verifyTrail(dir, { mac, open: true })).problems, []);
  // Drop the seal: the last records are unsealed.
  const all = lines(dir);
  rewrite(dir, all.slice(0, -1));
  const open = await verifyTrail(dir, { mac, open: true });
  assert.equal(open.ok, true);
  assert.match(open.notes.join("\n"), /2 records after the last valid seal \(seq 1\): not sealed yet/);
  await trail.close();
  // Records appended to a closed trail, chained right but unsealed.
  rechain(dir, (f) => f.push({ ...f[1] }));
  const appended = await verifyTrail(dir, { mac });
  assert.equal(appended.ok, false);
  assert.ok(appended.problems.some((p) => /after the last valid seal .*added or rewritten without the HSM key/.test(p.what)), JSON.stringify(appended.problems));
}));
