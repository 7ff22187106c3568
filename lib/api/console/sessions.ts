/**
 * The console's sessions and login challenges, in this node's memory: a
 * restart ends every session. Tokens are random; the maps are keyed by their
 * SHA-256, so a lookup never compares the secret itself.
 */
import { createHash, randomBytes } from "node:crypto";

/** How long sessions and challenges live. */
export interface SessionLimits {
  /** A session unused for this long has expired. */
  readonly idleMs: number;
  /** A session ends this long after login, used or not. */
  readonly maxMs: number;
}

/** Default limits: 15 minutes idle, 8 hours at most. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 15 * 60_000, maxMs: 8 * 3600_000 };
/** A challenge must be signed and returned within this time, once. */
export const CHALLENGE_MS = 60_000;
/** Bounds on what strangers can make the node remember: the oldest go first. */
const MAX_CHALLENGES = 1_000;
const MAX_SESSIONS = 10_000;

/** A logged-in browser: who it is, and the token its state-changing calls must echo. */
export interface Session {
  readonly identity: string;
  readonly csrf: string;
  readonly createdAt: number;
  lastSeen: number;
}

/** What a token resolves to: its session, or why there is none. */
export type Lookup = { readonly session: Session } | { readonly problem: "expired" | "unknown" };

function token(): string {
  return randomBytes(32).toString("base64url");
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** Drops the oldest entries of a map (insertion order) until it has room for one more. */
function makeRoom<V>(map: Map<string, V>, max: number): void {
  for (const k of map.keys()) {
    if (map.size < max) return;
    map.delete(k);
  }
}

/** The sessions and outstanding challenges of one node. */
export class ConsoleSessions {
  readonly #challenges = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();

  constructor(readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS, private readonly now: () => number = Date.now) {}

  /** A fresh challenge for a login. */
  challenge(): string {
    this.#prune();
    makeRoom(this.#challenges, MAX_CHALLENGES);
    const c = token();
    this.#challenges.set(hash(c), this.now() + CHALLENGE_MS);
    return c;
  }

  /** Whether `c` is an outstanding challenge; it can be taken only once. */
  takeChallenge(c: string): boolean {
    const key = hash(c);
    const expires = this.#challenges.get(key);
    this.#challenges.delete(key);
    return expires !== undefined && expires > this.now();
  }

  /** Opens a session for `identity`; the token goes into the cookie and is not kept. */
  open(identity: string): { token: string; session: Session } {
    this.#prune();
    makeRoom(this.#sessions, MAX_SESSIONS);
    const t = token();
    const at = this.now();
    const session: Session = { identity, csrf: token(), createdAt: at, lastSeen: at };
    this.#sessions.set(hash(t), session);
    return { token: t, session };
  }

  /** The live session of a cookie's token; using it keeps it alive (up to its maximum age). */
  find(t: string | undefined): Lookup {
    if (!t) return { problem: "unknown" };
    const key = hash(t);
    const session = this.#sessions.get(key);
    if (!session) return { problem: "unknown" };
    if (this.#expired(session)) {
      this.#sessions.delete(key);
      return { problem: "expired" };
    }
    session.lastSeen = this.now();
    return { session };
  }

  /** When `session` expires if it stays unused. */
  expiresAt(session: Session): number {
    return Math.min(session.lastSeen + this.limits.idleMs, session.createdAt + this.limits.maxMs);
  }

  /** Ends the session of a token (logout). */
  close(t: string | undefined): void {
    if (t) this.#sessions.delete(hash(t));
  }

  /** Ends every session of `identity`; returns how many there were. */
  closeIdentity(identity: string): number {
    let n = 0;
    for (const [k, s] of this.#sessions) {
      if (s.identity === identity) {
        this.#sessions.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Live sessions (for tests and status). */
  get size(): number {
    return this.#sessions.size;
  }

  #expired(s: Session): boolean {
    return this.now() >= this.expiresAt(s);
  }

  /** Forgets expired challenges and sessions, so memory follows what is live. */
  #prune(): void {
    const at = this.now();
    for (const [k, expires] of this.#challenges) if (expires <= at) this.#challenges.delete(k);
    for (const [k, s] of this.#sessions) if (this.#expired(s)) this.#sessions.delete(k);
  }
}
