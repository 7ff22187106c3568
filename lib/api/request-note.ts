/**
 * What a handler tells the request's observer (observe.ts) about the
 * request: which commands it runs, in which enclave, on which object. The
 * observer turns it into metrics and the audit record once the reply is out.
 * Notes hang off the web-standard Request, so handlers need no extra context.
 */
import { randomBytes } from "node:crypto";
import type { RawExchange, RawRequest, RawRoute } from "../net/serve.ts";

/** One request's note. */
export interface RequestNote {
  /** Unique in this process: a random boot prefix and a counter. */
  readonly id: string;
  enclave: string;
  /** The object acted on; "" when none, or when frames name several. */
  object: string;
  /** Operations by command name, with the command's id. */
  readonly commands: Map<string, { id: string; n: number }>;
  /** Operations in the request (frames of a pipelined request). */
  ops: number;
}

/** One operation of a request. */
export interface NotedOp {
  readonly name: string;
  /** The native command id, or 0 when it has none. */
  readonly id: number;
  readonly object: string;
}

const notes = new WeakMap<Request, RequestNote>();
const BOOT = randomBytes(4).toString("hex");
let counter = 0;

/** A new note, with the next request id. */
export function newNote(): RequestNote {
  return { id: `${BOOT}-${(++counter).toString(36)}`, enclave: "", object: "", commands: new Map(), ops: 0 };
}

/** Starts the note of a request. */
export function beginNote(req: Request): RequestNote {
  const note = newNote();
  notes.set(req, note);
  return note;
}

/** The note of a request, if it has one. */
export function noteOf(req: Request): RequestNote | undefined {
  return notes.get(req);
}

/** Records the enclave a request runs in. */
export function noteEnclave(req: Request, enclave: string): void {
  const note = notes.get(req);
  if (note) note.enclave = enclave;
}

/** Records the operations a request runs (every frame of a pipelined request). */
export function noteOps(req: Request, ops: readonly NotedOp[]): void {
  noteEach(req, ops, (op) => op.name, (op) => op.id, (op) => op.object);
}

/**
 * Records the operations of `items` (a pipelined request's frames) through
 * accessors, allocating nothing per frame: a 1,000-frame request costs a
 * string comparison or two per frame.
 */
export function noteEach<T>(req: Request, items: readonly T[], name: (t: T) => string, id: (t: T) => number, objectOf: (t: T) => string): void {
  const note = notes.get(req);
  if (note) noteItems(note, items, name, id, objectOf);
}

/** noteEach on a note in hand (a request served without a web Request). */
export function noteItems<T>(note: RequestNote, items: readonly T[], name: (t: T) => string, id: (t: T) => number, objectOf: (t: T) => string): void {
  note.commands.clear();
  let object: string | undefined;
  let lastName = "", last: { id: string; n: number } | undefined;
  for (const item of items) {
    const n = name(item);
    if (n !== lastName || !last) {
      lastName = n;
      last = note.commands.get(n);
      if (!last) note.commands.set(n, last = { id: id(item) ? String(id(item)) : "", n: 0 });
    }
    last.n++;
    if (object !== "") {
      const o = objectOf(item);
      object = object === undefined || object === o ? o : "";
    }
  }
  note.ops = items.length;
  note.object = object ?? "";
}

/** A raw route that serves with the request's note in hand (it notes the enclave and the commands). */
export interface NotingRoute extends Omit<RawRoute, "begin"> {
  begin(param: string, req: RawRequest, note: RequestNote): RawExchange;
}
