/**
 * A data directory as someone holding its files sees it: the raw rows of its
 * database, changed with plain SQL; and, for the tests' own checks, those rows
 * opened with the HSM key (as a reviewer with the key would).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { RecordCipher } from "../../lib/store/records.ts";
import { readRootKey } from "../../lib/store/root-key.ts";
import { type RunResult, runKms } from "./kms.ts";

const BUN = path.resolve(import.meta.dirname, "../../node_modules/.bin/bun");

/** One row of the records table, with the record key and plaintext it opens to. */
export interface OpenedRow {
  readonly key: string;
  readonly id: Uint8Array;
  readonly value: Uint8Array;
  readonly plain: Uint8Array;
}

type Value = string | number | null | Uint8Array;

/**
 * Runs statements on a data directory's database directly (no key needed), in
 * a process of its own, so no connection of the test lingers; returns each
 * statement's rows.
 */
export function sql(dir: string, statements: ReadonlyArray<{ sql: string; args?: Uint8Array[] }>): Value[][][] {
  const input = { db: path.join(dir, "kms.db"), statements: statements.map((s) => ({ sql: s.sql, args: (s.args ?? []).map((a) => Buffer.from(a).toString("base64")) })) };
  const r = spawnSync(BUN, [path.join(import.meta.dirname, "sql-script.ts")], { input: JSON.stringify(input), encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, `the SQL ran: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as Array<Array<Array<string | number | null | { b64: string }>>>;
  return out.map((rows) => rows.map((row) => row.map((v) => v !== null && typeof v === "object" ? new Uint8Array(Buffer.from(v.b64, "base64")) : v)));
}

/** Runs statements that change the database, as someone holding its files but no key would. */
export function tamper(dir: string, statements: ReadonlyArray<{ sql: string; args?: Uint8Array[] }>): void {
  sql(dir, statements);
}

/** What a data directory holds, byte for byte, whatever pages SQLite keeps it in: the sealed root key and every row. */
export function contents(dir: string): { root: string; records: Value[][]; meta: Value[][] } {
  const [records, meta] = sql(dir, [{ sql: "SELECT id, value FROM records ORDER BY id" }, { sql: "SELECT name, value FROM meta ORDER BY name" }]);
  return { root: readFileSync(path.join(dir, "root.seal"), "utf8"), records, meta };
}

/** Every row of the records table, opened with the HSM key. */
export async function openedRows(dir: string, hsmKey: string): Promise<OpenedRow[]> {
  const root = await readRootKey(dir, SoftHsm.parse(hsmKey));
  const cipher = new RecordCipher(root);
  root.fill(0);
  const [rows] = sql(dir, [{ sql: "SELECT id, value FROM records" }]);
  return rows.map(([id, value]) => {
    const opened = cipher.open({ id: id as Uint8Array, value: value as Uint8Array });
    assert.ok(opened, "every row opens with the HSM key");
    return { key: opened[0], id: id as Uint8Array, value: value as Uint8Array, plain: opened[1] };
  });
}

/** Runs `kms server` expecting it to refuse to start; fails fast if it starts instead. */
export async function refusedStart(dataDir: string, hsm: string | undefined): Promise<RunResult> {
  const r = await runKms(["server", "--addr", "127.0.0.1:0", dataDir], { MINIO_KMS_HSM_KEY: hsm ?? "" }, { timeoutMs: 20_000 });
  assert.doesNotMatch(r.stdout, /Listening on/, "the server must not start");
  assert.notEqual(r.code, 0, "the server must exit with a failure");
  assert.notEqual(r.code, 128, "the server exited on its own (not killed at the deadline)");
  return r;
}
