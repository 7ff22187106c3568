/** The console's JSON API (lib/api/console/routes.ts): same-origin calls with the session cookie. */
import { CSRF_HEADER } from "../lib/api/console/protocol.ts";

/** An error the server answered with: its status and the protocol's own message. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Who is signed in, as the server sees it. */
export interface SessionInfo {
  readonly identity: string;
  readonly sysadmin: boolean;
  readonly enclaves: ReadonlyArray<{ name: string; privilege: string }>;
  readonly csrf: string;
  readonly expires_at: string;
}

let csrf = "";
let onSignedOut: (message: string) => void = () => {};

/** Remembers the session's CSRF token (in memory only) for state-changing calls. */
export function useSession(s: SessionInfo | undefined): void {
  csrf = s?.csrf ?? "";
}

/** What to do when a call finds the session gone (expired, signed out elsewhere). */
export function whenSignedOut(f: (message: string) => void): void {
  onSignedOut = f;
}

/** A JSON call to /console/api; POSTs carry the CSRF token. */
export async function api<T = Record<string, unknown>>(method: "GET" | "POST", path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method === "POST") Object.assign(headers, { "content-type": "application/json", [CSRF_HEADER]: csrf });
  let res: Response;
  try {
    res = await fetch(`/console/api${path}`, {
      method, headers, body: method === "POST" ? JSON.stringify(body ?? {}) : undefined, credentials: "same-origin", cache: "no-store", signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "cannot reach the server: is it running?");
  }
  const data = await res.json().catch(() => ({})) as { message?: string };
  if (!res.ok) {
    const message = data.message ?? `HTTP ${res.status}`;
    if (res.status === 401 && path !== "/login" && path !== "/session") onSignedOut(message);
    throw new ApiError(res.status, message);
  }
  return data as T;
}

/** Runs one kms command (its policy name, e.g. KEY:CREATE) in `enclave` and returns its reply. */
export async function call<T = Record<string, unknown>>(command: string, enclave: string, request: Record<string, unknown> = {}): Promise<T> {
  return (await api<{ reply: T }>("POST", "/call", { command, enclave, request })).reply;
}

/** Every page of a listing command, following continue_at. */
export async function listAll<T>(command: string, enclave: string, field: string, prefix = ""): Promise<T[]> {
  const out: T[] = [];
  let at = "";
  for (;;) {
    const r = await call<Record<string, unknown>>(command, enclave, { prefix, continue_at: at });
    out.push(...(r[field] as T[]));
    at = r.continue_at as string;
    if (!at) return out;
  }
}
