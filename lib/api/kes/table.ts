/**
 * The KES routes this server implements, as /v1/api reports them. A route
 * whose path ends in '/' takes a resource (key name, prefix, policy name)
 * after it; kes-go joins paths with path.Join, so an empty resource arrives
 * without the slash (`GET /v1/key/list` for "list everything").
 */
import type { KesOp } from "./backend.ts";

/** Largest request body KES accepts. */
export const KES_MAX_BODY = 1 << 20;
/** Most names in one page of a listing. */
export const KES_LIST_PAGE = 1024;
/** KES's per-route timeout, reported by /v1/api (seconds). */
const TIMEOUT = 15;

/** One route of the table. */
export interface KesRoute {
  readonly methods: readonly string[];
  readonly path: string;
  /** The operation authorised; none for unauthenticated routes. */
  readonly op?: KesOp;
  readonly maxBody: number;
}

const get = (path: string, op?: KesOp): KesRoute => ({ methods: ["GET"], path, op, maxBody: 0 });
const put = (path: string, op: KesOp, maxBody = KES_MAX_BODY): KesRoute => ({ methods: ["PUT", "POST"], path, op, maxBody });

/** Every implemented route; nothing else is listed. */
export const KES_ROUTES: readonly KesRoute[] = [
  get("/version"),
  get("/v1/ready"),
  get("/v1/status", "status"),
  get("/v1/metrics", "metrics"),
  get("/v1/api"),
  put("/v1/key/create/", "create", 0),
  put("/v1/key/import/", "import"),
  get("/v1/key/describe/", "describe"),
  get("/v1/key/list/", "list"),
  { methods: ["DELETE"], path: "/v1/key/delete/", op: "delete", maxBody: 0 },
  put("/v1/key/generate/", "generate"),
  put("/v1/key/encrypt/", "encrypt"),
  put("/v1/key/decrypt/", "decrypt"),
  put("/v1/key/hmac/", "hmac"),
  // A kms extension: ReEncrypt, to the key's latest version or to another key.
  put("/v1/key/rewrap/", "rewrap"),
  get("/v1/policy/describe/", "policyDescribe"),
  get("/v1/policy/read/", "policyRead"),
  get("/v1/policy/list/", "policyList"),
  get("/v1/identity/self/describe", "self"),
  get("/v1/log/error", "logError"),
  get("/v1/log/audit", "logAudit"),
];

/** The route with this exact table path. */
export function routeOf(path: string): KesRoute {
  const r = KES_ROUTES.find((x) => x.path === path);
  if (!r) throw new Error(`no KES route ${path}`);
  return r;
}

/** The /v1/api reply. */
export function apiListing(): Array<{ method: string; path: string; max_body: number; timeout: number }> {
  return KES_ROUTES.flatMap((r) => r.methods.map((m) => ({ method: m, path: r.path, max_body: r.maxBody, timeout: TIMEOUT })));
}
