/**
 * `kms audit verify DIR`: checks an audit trail's hash chain and says where
 * it was changed. `kms audit show DIR`: prints its records, names unsealed
 * with the HSM key when it is in the environment. DIR is a data directory
 * (its trail is DIR/audit) or a directory of trail files.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseLine } from "../lib/audit/record.ts";
import { NameSealer, trailMac } from "../lib/audit/seal.ts";
import { trailFiles } from "../lib/audit/trail.ts";
import { verifyTrail } from "../lib/audit/verify.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { HSM_ENV_HELP, hsmFromEnv } from "./hsm.ts";
import { sinceOf } from "./logs.ts";
import { output } from "./output.ts";

/** The trail directory DIR names: DIR/audit for a data directory, else DIR itself. */
export async function trailDir(dir: string): Promise<string> {
  if (!existsSync(dir)) throw new CliError(`${dir}: no such directory`);
  const inner = path.join(dir, "audit");
  if ((await trailFiles(dir)).length === 0 && existsSync(inner)) return inner;
  return dir;
}

/** audit verify and audit show. */
export const auditCommands: CliCommand[] = [
  {
    name: "audit",
    summary: "Verify an audit trail's hash chain (verify DIR), or print its records (show DIR)",
    help: `Usage: kms audit verify [--open] DIR
       kms audit show [--since D|TIME] DIR

verify checks the hash chain of the audit trail in DIR (a data directory, or
a directory of audit-*.jsonl files): any edited, removed, inserted or
reordered record, a line cut short, or an end cut off is reported with its
file, line and sequence number, and the exit status is 1. It needs no key;
with the HSM key in the environment it also checks the seals a server puts
on the trail, which catch a chain rewritten from scratch by someone who
could write the files but has not the HSM key (an edge's trail has none).

show prints the records; enclave and object names, sealed on disk, are
shown in the clear when the HSM key that sealed them is in the environment.

Options:
  --open               verify: the trail is still being written (a running
                       node): do not expect it to end with a close record
  --since D|TIME       show: only records since a duration ago or a time
  --json               Print JSON
Environment (show, and verify's seals):
${HSM_ENV_HELP}`,
    options: { open: { type: "boolean" }, since: { type: "string" } },
    positionals: 2,
    async run(args: Args) {
      const [verb, dir] = args.positionals;
      if (verb === "verify") return verify(args, await trailDir(dir));
      if (verb === "show") return show(args, await trailDir(dir));
      throw new CliError(`audit: unknown subcommand '${verb}': use 'kms audit verify DIR' or 'kms audit show DIR'`, 2);
    },
  },
];

/** The HSM key from the environment, when it is there. */
function envHsm() {
  return process.env.MINIO_KMS_HSM_KEY || process.env.MINIO_KMS_HSM_KEY_FILE ? hsmFromEnv() : undefined;
}

async function verify(args: Args, dir: string): Promise<number> {
  const hsm = envHsm();
  const v = await verifyTrail(dir, { open: args.values.open === true, ...(hsm && { mac: trailMac(hsm) }) });
  output(args, v, () => {
    const lines = v.notes.map((n) => `note: ${n}`);
    for (const p of v.problems) lines.push(`${p.file}${p.line ? `:${p.line}` : ""}${p.seq !== undefined ? ` (seq ${p.seq})` : ""}: ${p.what}`);
    lines.push(v.ok
      ? `OK: ${v.records} records in ${v.files} file${v.files === 1 ? "" : "s"}, seq ${v.firstSeq} to ${v.lastSeq}, chain head ${v.head}${v.seals !== undefined ? `; ${v.seals} seals verified with the HSM key` : ""}`
      : `FAILED: ${v.problems.length} problem${v.problems.length === 1 ? "" : "s"} in ${v.records} records of ${dir}`);
    return lines.join("\n");
  });
  return v.ok ? 0 : 1;
}

async function show(args: Args, dir: string): Promise<number> {
  const hsm = envHsm();
  const sealer = hsm ? new NameSealer(hsm) : undefined;
  const since = sinceOf(args.values.since as string | undefined);
  const unseal = (s: unknown) => (typeof s === "string" && sealer ? sealer.unseal(s) ?? s : s);
  for (const file of await trailFiles(dir)) {
    for (const line of readFileSync(path.join(dir, file), "utf8").split("\n")) {
      const rec = parseLine(line);
      if (!rec || Date.parse(String(rec.fields.time)) < since) continue;
      const f: Record<string, any> = { ...rec.fields, enclave: unseal(rec.fields.enclave), object: unseal(rec.fields.object) };
      if (args.values.json) console.log(JSON.stringify(f));
      else if (f.event) console.log(`${f.time} #${f.seq} ${f.node} -- ${f.event}${f.after ? ` (after: ${f.after})` : ""}${f.count ? ` (${f.count} records lost)` : ""}`);
      else {
        const what = [f.enclave && `enclave=${f.enclave}`, f.object && `object=${f.object}`, Number(f.ops) > 1 && `ops=${f.ops}`].filter(Boolean).join(" ");
        console.log(`${f.time} #${f.seq} ${f.node} ${f.identity || "-"} ${f.command} ${what ? what + " " : ""}${f.status} ${f.ms}ms`);
      }
    }
  }
  return 0;
}
