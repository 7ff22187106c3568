/**
 * AWS Signature Version 4, server side: parse a request's Authorization
 * header, then check its signature with the caller's secret. Written from the
 * published algorithm (../shared/reference/aws-kms-api.md) and checked
 * against the real SDKs (tests/e2e/aws-*.test.ts): the signed headers are the
 * ones the client listed, in its order; the body hash is computed here (and
 * must equal x-amz-content-sha256 when sent); the time must be within a
 * window of the server's clock; signatures are compared in constant time.
 */
import { createHash, createHmac } from "node:crypto";
import { equal } from "./constant-time.ts";

const ALGORITHM = "AWS4-HMAC-SHA256";
/** How far a request's X-Amz-Date may be from the server's clock. */
export const CLOCK_WINDOW_MS = 5 * 60_000;

/** A parsed Authorization header. */
export interface SigV4Auth {
  readonly accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** Lower-case header names, in the client's order. */
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** The X-Amz-Date header: YYYYMMDDTHHMMSSZ. */
  readonly amzDate: string;
}

/** Why a request's signature is refused; the names are AWS's error codes. */
export interface SigV4Failure {
  readonly error: "MissingAuthenticationTokenException" | "IncompleteSignatureException" | "InvalidSignatureException" | "UnrecognizedClientException";
  readonly message: string;
}

/** What the verifier needs of a request. */
export interface SigV4Request {
  readonly method: string;
  /** The path as sent, without the query. */
  readonly path: string;
  /** The query string as sent, without '?' ("" for none). */
  readonly query: string;
  /** Header lookup by lower-case name (web-standard Headers). */
  readonly headers: { get(name: string): string | null };
  readonly body: Uint8Array;
}

const CREDENTIAL = /^([A-Za-z0-9]{1,128})\/(\d{8})\/([a-z0-9-]{1,64})\/([a-z0-9-]{1,32})\/aws4_request$/;
const AMZ_DATE = /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/;

const fail = (error: SigV4Failure["error"], message: string): SigV4Failure => ({ error, message });

/** Parses the Authorization and X-Amz-Date headers; a failure says what is wrong, as AWS would. */
export function parseSigV4(headers: SigV4Request["headers"]): SigV4Auth | SigV4Failure {
  const header = headers.get("authorization");
  if (!header) return fail("MissingAuthenticationTokenException", "Missing Authentication Token");
  if (header.length > 4096) return fail("IncompleteSignatureException", "Authorization header too long");
  const space = header.indexOf(" ");
  if (space < 0 || header.slice(0, space) !== ALGORITHM) {
    return fail("IncompleteSignatureException", `Unsupported Authorization algorithm: only ${ALGORITHM} is accepted`);
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential"), signed = fields.get("SignedHeaders"), signature = fields.get("Signature");
  if (!credential || !signed || !signature) {
    return fail("IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature");
  }
  const scope = CREDENTIAL.exec(credential);
  if (!scope) return fail("IncompleteSignatureException", "Credential must be ACCESSKEY/YYYYMMDD/REGION/SERVICE/aws4_request");
  if (!/^[0-9a-f]{64}$/.test(signature)) return fail("IncompleteSignatureException", "Signature must be 64 hex digits");
  const signedHeaders = signed.split(";");
  if (signedHeaders.some((h) => !/^[a-z0-9-]{1,128}$/.test(h)) || signedHeaders.length > 64) {
    return fail("IncompleteSignatureException", "SignedHeaders must be lower-case header names separated by ';'");
  }
  if (!signedHeaders.includes("host")) return fail("IncompleteSignatureException", "SignedHeaders must include host");
  const amzDate = headers.get("x-amz-date") ?? "";
  if (!AMZ_DATE.test(amzDate)) return fail("IncompleteSignatureException", "X-Amz-Date must be present, as YYYYMMDDTHHMMSSZ");
  if (!signedHeaders.includes("x-amz-date")) return fail("IncompleteSignatureException", "SignedHeaders must include x-amz-date");
  const [, accessKeyId, date, region, service] = scope;
  return { accessKeyId, date, region, service, signedHeaders, signature, amzDate };
}

/** Whether parseSigV4 failed. */
export function isFailure(x: SigV4Auth | SigV4Failure): x is SigV4Failure {
  return "error" in x;
}

/** Milliseconds since the epoch of an X-Amz-Date. */
function timeOf(amzDate: string): number {
  const [, d, hh, mm, ss] = AMZ_DATE.exec(amzDate)!;
  return Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)), Number(hh), Number(mm), Number(ss));
}

const sha256Hex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Uint8Array | string, data: string) => new Uint8Array(createHmac("sha256", key).update(data).digest());

/** The SigV4 signing key of a secret for one day, region and service. */
export function signingKey(secret: string, date: string, region: string, service: string): Uint8Array {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

/** URI-encodes as SigV4 does: everything but A-Z a-z 0-9 - _ . ~. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical query string: pairs encoded, sorted by name then value. */
function canonicalQuery(query: string): string {
  if (!query) return "";
  const pairs = query.split("&").filter(Boolean).map((p) => {
    const eq = p.indexOf("=");
    const [k, val] = eq < 0 ? [p, ""] : [p.slice(0, eq), p.slice(eq + 1)];
    const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
    return [uriEncode(dec(k)), uriEncode(dec(val))] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, val]) => `${k}=${val}`).join("&");
}

/** The canonical request of `req` as signed over `auth.signedHeaders`, or a failure when a listed header is missing. */
export function canonicalRequest(req: SigV4Request, signedHeaders: readonly string[], bodyHash: string): string | SigV4Failure {
  const lines: string[] = [];
  for (const name of signedHeaders) {
    const value = req.headers.get(name);
    if (value === null) return fail("IncompleteSignatureException", `the signed header ${name} is missing`);
    lines.push(`${name}:${value.trim().replace(/\s+/g, " ")}`);
  }
  let query: string;
  try {
    query = canonicalQuery(req.query);
  } catch {
    return fail("IncompleteSignatureException", "malformed query string");
  }
  return [req.method, req.path || "/", query, ...lines, "", signedHeaders.join(";"), bodyHash].join("\n");
}

/**
 * Checks `req`'s signature (parsed as `auth`) with `secret` at time `now`:
 * undefined when it is valid, else why not.
 */
export function checkSigV4(auth: SigV4Auth, req: SigV4Request, secret: string, now: number, service = "kms"): SigV4Failure | undefined {
  if (auth.service !== service) return fail("InvalidSignatureException", `Credential should be scoped to correct service: '${service}'`);
  if (auth.amzDate.slice(0, 8) !== auth.date) return fail("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from X-Amz-Date");
  const at = timeOf(auth.amzDate);
  if (Math.abs(now - at) > CLOCK_WINDOW_MS) {
    const fmt = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "");
    const which = at < now ? "earlier" : "later";
    return fail("InvalidSignatureException", `Signature expired: ${auth.amzDate} is now ${which} than ${fmt(at < now ? now - CLOCK_WINDOW_MS : now + CLOCK_WINDOW_MS)} (${fmt(now)} ${at < now ? "-" : "+"} 5 min.)`);
  }
  const bodyHash = sha256Hex(req.body);
  const claimed = req.headers.get("x-amz-content-sha256");
  if (claimed !== null && claimed !== bodyHash) return fail("InvalidSignatureException", "The provided x-amz-content-sha256 header does not match what was computed.");
  const canonical = canonicalRequest(req, auth.signedHeaders, bodyHash);
  if (typeof canonical !== "string") return canonical;
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const toSign = [ALGORITHM, auth.amzDate, scope, sha256Hex(canonical)].join("\n");
  const expected = createHmac("sha256", signingKey(secret, auth.date, auth.region, auth.service)).update(toSign).digest("hex");
  const enc = new TextEncoder();
  if (!equal(enc.encode(expected), enc.encode(auth.signature))) {
    return fail("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.");
  }
  return undefined;
}
