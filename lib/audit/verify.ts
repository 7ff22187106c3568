/**
 * Checks an audit trail (trail.ts, record.ts) and says where it was changed:
 * an edited record (its hash no longer matches), records removed, inserted
 * or reordered (`seq` and `prev` no longer follow), a line cut short, and a
 * trail whose end was cut off (it does not end with the "close" marker a
 * stopped node writes). It reads only the files: no key is needed. Given
 * the trail's mac (the HSM key's, seal.ts), it also checks every marker's
 * seal, which catches a chain rewritten by someone who could write the
 * files but has not the HSM key, and records added after the last seal.
 */
import { timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { GENESIS, macBody, type MarkerMac, parseLine, sha256 as sha } from "./record.ts";
import { trailFiles } from "./trail.ts";

/** One thing found wrong, and where. */
export interface Problem {
  readonly file: string;
  /** 1-based line number in the file. */
  readonly line: number;
  readonly seq?: number;
  readonly what: string;
}

/** The outcome of a check. */
export interface Verdict {
  readonly ok: boolean;
  readonly files: number;
  readonly records: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Hash of the last record: the chain's head (compare it with a copy kept elsewhere). */
  readonly head: string;
  readonly problems: Problem[];
  /** Things worth knowing that are not tampering (a crash, archived files). */
  readonly notes: string[];
  /** Markers whose seal verified (undefined: seals not checked). */
  readonly seals?: number;
}

/** Whether a marker's mac is the one `mac` computes for its body. */
function sealHolds(fields: Record<string, unknown>, mac: MarkerMac): boolean {
  if (typeof fields.mac !== "string" || !/^[0-9a-f]{64}$/.test(fields.mac)) return false;
  return timingSafeEqual(Buffer.from(fields.mac, "hex"), Buffer.from(mac(macBody(fields)), "hex"));
}

/**
 * Verifies every trail file in `dir`. With `open`, a trail still being
 * written (no close marker yet) is fine. With `mac`, every marker's seal is
 * checked, and every record must be followed by a sealed marker (with
 * `open`: all but those of the last moments, which a note counts).
 */
export async function verifyTrail(dir: string, opts: { open?: boolean; mac?: MarkerMac } = {}): Promise<Verdict> {
  const files = await trailFiles(dir);
  const problems: Problem[] = [];
  const notes: string[] = [];
  let prevSeq: number | undefined, prevHash = GENESIS, records = 0, firstSeq = 0, lastEvent = "", lastLine = 0, torn: Problem | undefined;
  let macs = 0, unsealed = 0, sealedSeq = 0, seals = 0;
  for (const name of files) {
    const text = await readFile(path.join(dir, name), "utf8");
    const lines = text.split("\n");
    const last = lines.pop()!; // "" when the file ends with a newline
    if (torn) {
      // The previous file ended mid-line and the chain goes on here: a write cut short (crash, full disk).
      notes.push(`${torn.file} ends with an incomplete line (line ${torn.line}): a write cut short by a crash or a full disk; the chain goes on in ${name}`);
      torn = undefined;
    }
    lines.forEach((line, i) => {
      const where = { file: name, line: i + 1 };
      const rec = parseLine(line);
      const seq = rec?.fields.seq;
      if (!rec || typeof seq !== "number" || typeof rec.fields.prev !== "string") {
        problems.push({ ...where, what: "not an audit record (the line was edited or cut)" });
        return;
      }
      records++;
      if (prevSeq === undefined) {
        firstSeq = seq;
        if (seq !== 1 || rec.fields.prev !== GENESIS) notes.push(`the trail starts at seq ${seq} (${name}): earlier records are not in ${dir} (archived or removed)`);
      } else if (rec.fields.event === "open" && rec.fields.after === "unreadable" && rec.fields.prev === GENESIS) {
        problems.push({ ...where, seq, what: "the chain starts over here: the trail before it ended in a line that is not a record" });
      } else if (seq !== prevSeq + 1) {
        problems.push({
          ...where, seq,
          what: seq > prevSeq + 1 ? `records missing before this one: seq jumps from ${prevSeq} to ${seq}` : `out of order: seq ${seq} after seq ${prevSeq}`,
        });
      } else if (rec.fields.prev !== prevHash) {
        problems.push({ ...where, seq, what: `does not follow seq ${prevSeq}: its prev is not that record's hash (a record before it was edited or replaced)` });
      }
      if (rec.hash !== sha(rec.body)) problems.push({ ...where, seq, what: "edited: the record's hash does not match its content" });
      if (typeof rec.fields.mac === "string") macs++;
      if (opts.mac && typeof rec.fields.event === "string") {
        if (sealHolds(rec.fields, opts.mac)) {
          unsealed = 0;
          sealedSeq = seq;
          seals++;
        } else {
          problems.push({ ...where, seq, what: "its seal does not verify under the HSM key: the chain up to here was rewritten (or sealed by another HSM key)" });
        }
      } else if (opts.mac) unsealed++;
      prevSeq = seq;
      prevHash = rec.hash;
      lastEvent = typeof rec.fields.event === "string" ? rec.fields.event : "";
    });
    lastLine = lines.length;
    if (last !== "") torn = { file: name, line: lines.length + 1, what: "" };
  }
  const end = files[files.length - 1] ?? "";
  if (torn) problems.push({ ...torn, what: "the trail ends with an incomplete line: it was cut short (truncated, or the node crashed while writing)" });
  else if (records > 0 && lastEvent !== "close" && !opts.open) {
    problems.push({
      file: end, line: lastLine, seq: prevSeq,
      what: `the trail ends at seq ${prevSeq} without a close record: records after it were removed, or the node is still running (use --open) or crashed`,
    });
  }
  if (opts.mac && records > 0 && unsealed > 0) {
    const what = `${unsealed} record${unsealed === 1 ? "" : "s"} after the last valid seal (seq ${sealedSeq})`;
    if (opts.open) notes.push(`${what}: not sealed yet (a running node seals its records within seconds)`);
    else problems.push({ file: end, line: lastLine, seq: prevSeq, what: `${what}: added or rewritten without the HSM key` });
  }
  if (!opts.mac && macs > 0) notes.push("the seals were not checked: with the HSM key in the environment, verify also catches a chain rewritten from scratch");
  if (files.length === 0) notes.push(`no audit trail files (audit-*.jsonl) in ${dir}`);
  return { ok: problems.length === 0 && files.length > 0, files: files.length, records, firstSeq, lastSeq: prevSeq ?? 0, head: prevHash, problems, notes, ...(opts.mac && { seals }) };
}

