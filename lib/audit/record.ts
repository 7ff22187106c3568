/**
 * One audit record and the hash chain that links records: each line is a
 * JSON object whose `prev` is the hash of the line before it and whose last
 * field, `hash`, is the SHA-256 of the line up to that field. Editing a byte
 * breaks that record's hash; removing, reordering or inserting records
 * breaks `seq` and `prev`. Field order is fixed, so the same record always
 * serialises to the same bytes. Anyone who can write the files could
 * recompute every hash, so on a server the trail's markers also carry a
 * `mac` under a key the HSM derives (seal.ts): a chain rewritten without the
 * HSM key no longer verifies with it.
 */
import * as crypto from "node:crypto";

/** What one request leaves in the trail (names already sealed where the trail is on disk). */
export interface AuditEvent {
  /** Milliseconds since the epoch, when the request arrived. */
  readonly time: number;
  /** The node that answered (its advertised address, or the edge's listen address). */
  readonly node: string;
  /** The request id (also the reply's x-request-id header). */
  readonly id: string;
  /** The caller's identity (h1:…), "" when it sent no certificate. */
  readonly identity: string;
  readonly ip: string;
  /** Route family: native, kes, rpc, health, debug, other. */
  readonly api: string;
  readonly method: string;
  /** The command (KEY:GENERATE, …; PIPELINE when a request mixes several), or the route for other requests. */
  readonly command: string;
  readonly enclave: string;
  /** The object acted on (key, policy, identity name); "" for none or for several. */
  readonly object: string;
  /** Operations in the request (frames of a pipelined request). */
  readonly ops: number;
  readonly status: number;
  /** Handling time in milliseconds. */
  readonly ms: number;
}

/** Markers the trail writes itself: opened (after a clean close, a crash, or on a new trail), closed, records lost, sealed. */
export interface AuditMarker {
  readonly time: number;
  readonly node: string;
  /** "seal": written only to carry a mac over the chain so far (at most every few seconds). */
  readonly event: "open" | "close" | "lost" | "seal";
  /** open: how the previous run ended ("new", "closed", "crashed"). */
  readonly after?: string;
  /** open after a crash: bytes of the incomplete last line left in the previous file. */
  readonly torn?: number;
  /** lost: records dropped because the disk could not keep up. */
  readonly count?: number;
}

/** The hash before the first record of a trail. */
export const GENESIS = "0".repeat(64);

const HASH_FIELD = ',"hash":"';
/** Length of the `,"hash":"<64 hex>"}` tail of every line. */
const TAIL = HASH_FIELD.length + 64 + 2;

// One call instead of a Hash object per line (a third of the cost); runtimes without crypto.hash get the object.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

/** SHA-256 of a string (UTF-8), hex. */
export function sha256(text: string): string {
  return oneShot ? oneShot("sha256", text, "hex") : crypto.createHash("sha256").update(text).digest("hex");
}

/** Computes a marker's mac over its body (seq, prev and fields, without mac and hash). */
export type MarkerMac = (body: string) => string;

/**
 * The line (without newline) of a record at `seq` after `prev`, and its hash.
 * With `mac`, a marker carries the mac of its body: since the body holds
 * `prev`, the mac covers the whole chain before it.
 */
export function chainLine(seq: number, prev: string, rec: AuditEvent | AuditMarker, mac?: MarkerMac): { line: string; hash: string } {
  const fields = ordered(seq, prev, rec);
  if (mac && "event" in rec) fields.mac = mac(JSON.stringify(fields));
  const body = JSON.stringify(fields);
  const hash = sha256(body);
  return { line: `${body.slice(0, -1)}${HASH_FIELD}${hash}"}`, hash };
}

/** A record's fields in the fixed order they are written in. */
function ordered(seq: number, prev: string, r: AuditEvent | AuditMarker): Record<string, unknown> {
  const time = new Date(r.time).toISOString();
  if ("event" in r) {
    return { seq, prev, time, node: r.node, event: r.event, ...(r.after !== undefined && { after: r.after }), ...(r.torn !== undefined && { torn: r.torn }), ...(r.count !== undefined && { count: r.count }) };
  }
  return {
    seq, prev, time, node: r.node, id: r.id, identity: r.identity, ip: r.ip, api: r.api, method: r.method,
    command: r.command, enclave: r.enclave, object: r.object, ops: r.ops, status: r.status, ms: r.ms,
  };
}

/** The body a marker's mac was computed over: its fields without `mac` (JSON keeps their order). */
export function macBody(fields: Record<string, unknown>): string {
  const { mac: _, ...rest } = fields;
  return JSON.stringify(rest);
}

/** A parsed line: its body (what the hash covers), the hash it claims, and its fields; undefined when it is not a record. */
export function parseLine(line: string): { body: string; hash: string; fields: Record<string, unknown> } | undefined {
  if (line.length <= TAIL || !line.endsWith('"}')) return undefined;
  const at = line.length - TAIL;
  if (line.slice(at, at + HASH_FIELD.length) !== HASH_FIELD) return undefined;
  const hash = line.slice(at + HASH_FIELD.length, line.length - 2);
  if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
  const body = line.slice(0, at) + "}";
  try {
    const fields = JSON.parse(body);
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return undefined;
    return { body, hash, fields };
  } catch {
    return undefined;
  }
}
