/**
 * deploy/kms.service (issue 13): systemd's own checker accepts the unit
 * without a warning, its command line is one `kms server` accepts, and it
 * keeps the limits and hardening docs/operations.md promises.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parseCommandArgs } from "../../cli/command.ts";
import { RESTART_EXIT } from "../../lib/server/reexec.ts";
import { COMMANDS } from "../../main.ts";

const UNIT = path.join(import.meta.dirname, "..", "..", "deploy", "kms.service");
const text = readFileSync(UNIT, "utf8");

/** The unit's settings as key → values (a key may repeat). */
function settings(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe("the systemd unit", () => {
  it("systemd-analyze verify accepts it without a warning", { skip: !existsSync("/usr/bin/systemd-analyze") && "systemd-analyze is not installed" }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kms-unit-"));
    try {
      // The checker wants ExecStart's program to exist: point it at one that does, nothing else changed.
      const unit = path.join(dir, "kms.service");
      writeFileSync(unit, text.replace("ExecStart=/usr/local/bin/kms ", "ExecStart=/bin/true "));
      const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), "", "no warning");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts `kms server` with arguments it accepts, the HSM key from a credential file", () => {
    const s = settings();
    const [exec] = s.get("ExecStart") ?? [];
    const [bin, sub, ...argv] = exec.split(/\s+/);
    assert.equal(path.basename(bin), "kms");
    const server = COMMANDS.find((c) => c.name === sub);
    assert.ok(server, `kms has a '${sub}' command`);
    const args = parseCommandArgs(server, argv);
    assert.deepEqual(args.positionals, ["/var/lib/kms"]);
    assert.ok(s.get("Environment")?.includes("MINIO_KMS_HSM_KEY_FILE=%d/hsm.key"), "the key is read from the credential, never written into the unit");
    assert.match(s.get("LoadCredential")?.[0] ?? "", /^hsm\.key:/);
  });

  it("keeps the documented type, limits and hardening", () => {
    const s = settings();
    const one = (k: string) => s.get(k)?.[0];
    assert.ok(["notify", "simple", "exec"].includes(one("Type")!), `Type=${one("Type")}`);
    assert.equal(one("LimitMEMLOCK"), "infinity");
    for (const k of ["NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID", "LockPersonality"]) assert.equal(one(k), "yes", k);
    assert.equal(one("ProtectSystem"), "strict");
    assert.equal(one("UMask"), "0077");
    assert.equal(one("CapabilityBoundingSet"), "", "no capabilities");
    assert.equal(one("StateDirectory"), "kms", "the one place it writes: /var/lib/kms");
    // `kms restart` re-executes in place; a runtime that cannot asks systemd to start it again with this status.
    assert.equal(one("RestartForceExitStatus"), String(RESTART_EXIT));
  });
});
