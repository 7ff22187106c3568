/**
 * `--audit FILE` as an operator runs it (issue 13): a path that cannot be
 * written stops the start with a clear error (rather than losing every
 * record in silence), and SIGHUP starts a new file under the same name after
 * logrotate moved the old one, without stopping the server.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { oneShotClient, waitUntil } from "../helpers/e2e.ts";
import { cleanup, runKms, startServer, tempDir } from "../helpers/kms.ts";

/** The request ids in an --audit file. */
function ids(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).id);
}

describe("--audit FILE", () => {
  after(cleanup);

  it("a file that cannot be appended to stops the start, and no data directory is left", async () => {
    const dir = path.join(tempDir("kms-audit-out-"), "data");
    const bad = path.join(path.dirname(dir), "no-such-dir", "audit.jsonl");
    const r = await runKms(["server", "--addr", "127.0.0.1:0", "--audit", bad, dir], { MINIO_KMS_HSM_KEY: SoftHsm.generate() }, { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^kms: --audit ${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: cannot append to it \\(ENOENT\\)$`, "m"));
    assert.equal(existsSync(dir), false, "the half-made data directory is removed");
  });

  it("SIGHUP reopens the file by its name: records before the rotation stay in the old file, later ones go to the new", async () => {
    const work = tempDir("kms-audit-out-");
    const file = path.join(work, "audit.jsonl");
    const server = await startServer({ extraArgs: ["--audit", file] });
    const admin = oneShotClient(server);
    await admin.createEnclave("before-rotation");
    const [first] = await waitUntil(() => (ids(file).length > 0 ? ids(file) : undefined), "the first record in the --audit file");
    renameSync(file, `${file}.1`); // what logrotate does
    server.process.kill("SIGHUP");
    await waitUntil(() => /SIGHUP: reopened /.test(server.output()), "the server to reopen the file");
    await admin.createEnclave("after-rotation");
    const fresh = await waitUntil(() => (ids(file).length > 0 ? ids(file) : undefined), "a record in the new file");
    const old = ids(`${file}.1`);
    assert.ok(old.includes(first));
    for (const id of fresh) assert.ok(!old.includes(id), "a record is in one file only");
    assert.equal(server.process.exitCode, null, "SIGHUP does not stop the server");
    assert.equal(await server.stop(), 0);
  });
});
