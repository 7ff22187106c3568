/**
 * The one structured logger of a kms process (server, edge, CLI-run
 * servers): every record goes to stderr as a JSON line (or, with
 * `--log-format text`, a line for people) and to whoever subscribed — the
 * native log stream (/v1/debug/log) and KES's /v1/log/error. Levels are Go's
 * slog levels, as MinIO's LogRecord carries them. Records never hold key
 * material, plaintext or API keys: callers log names of errors, not their
 * messages, where a message could quote a request.
 */

/** slog's levels: what LogRequest.level and LogRecord.level carry. */
export const Level = { debug: -4, info: 0, warn: 4, error: 8 } as const;
export type LevelName = keyof typeof Level;

/** Extra structured fields of a record (small scalars only). */
export type Fields = Readonly<Record<string, string | number | boolean>>;

/** The request that caused a record, if any. */
export interface RecordRequest {
  readonly method: string;
  readonly path: string;
  readonly identity: string;
  readonly ip: string;
}

/** One log record. */
export interface LogRecord {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly level: number;
  readonly msg: string;
  readonly fields?: Fields;
  readonly req?: RecordRequest;
}

/** How records are written to stderr. */
export type LogFormat = "json" | "text";

/** Records kept for `since` replays of the log streams. */
const RECENT = 1024;

/** The name of a level (the nearest slog name at or below it). */
export function levelName(level: number): string {
  if (level >= Level.error) return "ERROR";
  if (level >= Level.warn) return "WARN";
  if (level >= Level.info) return "INFO";
  return "DEBUG";
}

/** A record as one JSON line (no newline), slog's field names. */
export function jsonLine(r: LogRecord): string {
  const out: Record<string, unknown> = { time: new Date(r.time).toISOString(), level: levelName(r.level), msg: r.msg, ...r.fields };
  if (r.req) out.request = r.req;
  return JSON.stringify(out);
}

/** A record as a line for people: `TIME kms: [LEVEL ]MESSAGE[ key=value…]`. */
export function textLine(r: LogRecord): string {
  const level = r.level >= Level.warn ? `${levelName(r.level)} ` : r.level < Level.info ? "DEBUG " : "";
  const fields = Object.entries(r.fields ?? {}).map(([k, v]) => ` ${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`).join("");
  return `${new Date(r.time).toISOString()} kms: ${level}${r.msg}${fields}`;
}

/** A structured logger with subscribers and a short memory of recent records. */
export class Logger {
  #format: LogFormat = "json";
  #min: number = Level.info;
  #out: (line: string) => void = (line) => void process.stderr.write(line + "\n");
  readonly #subscribers = new Set<(r: LogRecord) => void>();
  readonly #recent: LogRecord[] = [];
  /** Records written, by level name, for metrics. */
  readonly counts: Record<string, number> = { DEBUG: 0, INFO: 0, WARN: 0, ERROR: 0 };

  /** Sets the stderr format, the least level written (default info) and where lines go (default stderr). */
  configure(opts: { format?: LogFormat; level?: number; out?: (line: string) => void }): void {
    if (opts.format) this.#format = opts.format;
    if (opts.level !== undefined) this.#min = opts.level;
    if (opts.out) this.#out = opts.out;
  }

  /** The stderr format in use. */
  get format(): LogFormat {
    return this.#format;
  }

  /** Writes a record at `level`. */
  log(level: number, msg: string, fields?: Fields, req?: RecordRequest): void {
    if (level < this.#min) return;
    const r: LogRecord = { time: Date.now(), level, msg, ...(fields && { fields }), ...(req && { req }) };
    this.counts[levelName(level)]++;
    this.#recent.push(r);
    if (this.#recent.length > RECENT) this.#recent.shift();
    try {
      this.#out(this.#format === "json" ? jsonLine(r) : textLine(r));
    } catch {
      // stderr gone (a closed pipe): the subscribers still get the record
    }
    for (const s of this.#subscribers) s(r);
  }

  debug = (msg: string, fields?: Fields) => this.log(Level.debug, msg, fields);
  info = (msg: string, fields?: Fields) => this.log(Level.info, msg, fields);
  warn = (msg: string, fields?: Fields) => this.log(Level.warn, msg, fields);
  error = (msg: string, fields?: Fields) => this.log(Level.error, msg, fields);

  /** Calls `fn` with every record from now on; returns the function that stops it. */
  subscribe(fn: (r: LogRecord) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** Number of subscribers (open log streams). */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** The recent records (at most the last 1,024) at or after `since` (ms). */
  recent(since = 0): LogRecord[] {
    return this.#recent.filter((r) => r.time >= since);
  }
}

/** The process's logger. */
export const log = new Logger();
